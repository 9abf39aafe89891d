/**
 * The server token: from `--token-file` / `SNAKEPIT_TOKEN_FILE` (recommended: the token is in no
 * process's command line or environment) or from `--token` / `SNAKEPIT_TOKEN`. A file may be a
 * pipe (`--token-file <(pass show snakepit)`): read once, nothing is left for anyone else.
 */

import { readFileSync, statSync } from "node:fs";
import { SnakepitError } from "../errors.ts";

const MAX_TOKEN_BYTES = 4_096;

function invalid(field: string, message: string): SnakepitError {
  return new SnakepitError("config_invalid", message, { details: { field } });
}

/** Read a token file: one line, surrounding whitespace dropped; refused when others may read it. */
export function readTokenFile(path: string): string {
  let info;
  try {
    info = statSync(path);
  } catch (err) {
    throw invalid("tokenFile", `Cannot read the token file "${path}": ${(err as Error).message}`);
  }
  if (info.isFile() && (info.mode & 0o077) !== 0) {
    throw invalid("tokenFile", `The token file "${path}" can be read by other users (mode ${(info.mode & 0o777).toString(8)}): run chmod 600 "${path}"`);
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw invalid("tokenFile", `Cannot read the token file "${path}": ${(err as Error).message}`);
  }
  if (text.length > MAX_TOKEN_BYTES) throw invalid("tokenFile", `The token file "${path}" holds ${text.length} bytes; a token is one line`);
  const token = text.trim();
  if (token === "") throw invalid("tokenFile", `The token file "${path}" is empty (or only whitespace)`);
  if (/\s/.test(token)) throw invalid("tokenFile", `The token file "${path}" must hold one token on one line, without spaces`);
  return token;
}

/**
 * The token the server requires, from the file or the value (never both). A token that is empty
 * or only whitespace is refused: it would lock everyone out (or, trimmed, let anyone in).
 */
export function resolveToken(server: { token?: string | undefined; tokenFile?: string | undefined }): string | undefined {
  if (server.tokenFile !== undefined && server.token !== undefined) {
    throw invalid("token", "Give the token once: --token-file / SNAKEPIT_TOKEN_FILE or --token / SNAKEPIT_TOKEN, not both");
  }
  if (server.tokenFile !== undefined) return readTokenFile(server.tokenFile);
  if (server.token === undefined) return undefined;
  if (server.token.trim() === "") throw invalid("token", "The token is empty or only whitespace: nobody could log in with it");
  if (server.token !== server.token.trim() || /\s/.test(server.token)) throw invalid("token", "The token must not contain spaces or line breaks");
  return server.token;
}
