/** What the global setup started, handed to the test workers through the environment. */
export interface StackInfo {
  appUrl: string;
  redisUrl: string;
  tokenSecret: string;
  relays: { name: string; url: string; port: number; pid: number }[];
}

export const STACK_ENV = 'PARTYLINE_E2E_STACK';

export function stackInfo(): StackInfo {
  const raw = process.env[STACK_ENV];
  if (!raw) throw new Error(`${STACK_ENV} is not set: run the specs through playwright.config.ts (its global setup starts the stack)`);
  return JSON.parse(raw) as StackInfo;
}
