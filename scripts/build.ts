/** `npm run build [OUTFILE]`: the single executable for this machine (default dist/snakepit). */

import { join } from "node:path";
import { buildBinary, gitCommit, ROOT } from "./build-binary.ts";

const outfile = process.argv[2] ?? join(ROOT, "dist/snakepit");
const stamp = `build ${gitCommit()} ${process.platform}-${process.arch} ${new Date().toISOString().slice(0, 10)}`;
const { code, assetHash, files } = await buildBinary({ outfile, stamp });
if (code === 0) console.log(`built ${outfile} (assets ${assetHash}, ${files} files)`);
process.exit(code);
