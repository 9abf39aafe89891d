/** The longest delay a JavaScript timer can wait (2^31 - 1 ms, about 24.8 days); longer fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;
