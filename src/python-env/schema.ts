/** The install options live with the other option schemas in config/ (config never imports python-env). */

export { type InstallConfig, InstallSchema } from "../config/install.ts";
