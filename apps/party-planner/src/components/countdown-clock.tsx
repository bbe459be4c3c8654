import { useEffect, useState } from 'react';
import { countdown, formatPartyDate, parsePartyDate } from '../state/countdown.js';

export function CountdownClock({ date }: { date: string | undefined }) {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), 1000);
    return () => clearInterval(timer);
  }, []);
  const target = date ? parsePartyDate(date) : undefined;
  if (!date || !target) return <p className="countdown muted">Pick a date below to start the countdown.</p>;
  const left = countdown(target, now);
  if (left.started) return <p className="countdown live">🎉 It's party time! ({formatPartyDate(date)})</p>;
  return (
    <div className="countdown" role="timer" aria-label={`${left.days} days, ${left.hours} hours and ${left.minutes} minutes to go`}>
      {([['days', left.days], ['hrs', left.hours], ['min', left.minutes], ['sec', left.seconds]] as const).map(([unit, value]) => (
        <span key={unit} className="unit" aria-hidden="true">
          <strong>{String(value).padStart(unit === 'days' ? 1 : 2, '0')}</strong>
          <small>{unit}</small>
        </span>
      ))}
    </div>
  );
}
