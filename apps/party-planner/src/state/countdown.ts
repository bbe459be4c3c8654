export interface Countdown {
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
  /** The moment has come (or gone). */
  started: boolean;
}

/**
 * Parses a party date as the planner stores it: `YYYY-MM-DD` (the evening, 19:00) or
 * `YYYY-MM-DDTHH:mm`, both in the viewer's local time. Anything else is not a date.
 */
export function parsePartyDate(value: string): Date | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi] = match;
  const date = new Date(Number(y), Number(mo) - 1, Number(d), h === undefined ? 19 : Number(h), mi === undefined ? 0 : Number(mi));
  return Number.isNaN(date.getTime()) || date.getMonth() !== Number(mo) - 1 ? undefined : date;
}

export function countdown(target: Date, now: Date): Countdown {
  const ms = target.getTime() - now.getTime();
  if (ms <= 0) return { days: 0, hours: 0, minutes: 0, seconds: 0, started: true };
  const total = Math.floor(ms / 1000);
  return {
    days: Math.floor(total / 86_400),
    hours: Math.floor((total % 86_400) / 3600),
    minutes: Math.floor((total % 3600) / 60),
    seconds: total % 60,
    started: false,
  };
}

/** `Sat 14 Jun, 19:00` in the viewer's locale. */
export function formatPartyDate(value: string, locale?: string): string {
  const date = parsePartyDate(value);
  if (!date) return value;
  return date.toLocaleString(locale, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}
