/** The API's edge limits (the schema lives with the rest of the configuration). */

export { ApiLimitsSchema, DEFAULT_API_LIMITS } from "../config/api-limits.ts";
export type { ApiLimits, ApiLimitsInput } from "../config/api-limits.ts";
