// Small shared pieces: an error note, a live countdown, a status badge, a page heading that takes focus.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { FareFragment } from '@tatkal/client';
import { clockFmt, inr, t, tEnum } from '../i18n.ts';

export function ErrorNote({ error }: { error: { code: string; message: string } | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message} <span class="code">({error.code})</span>
    </p>
  );
}

/**
 * Seconds left until `seconds` from when it was given (server time, not the phone's clock),
 * ticking each second. `announce` puts it in a polite live region once a minute at most.
 */
export function useCountdown(seconds: number | null | undefined): number | null {
  const [left, setLeft] = useState(seconds ?? null);
  useEffect(() => {
    if (seconds === null || seconds === undefined) {
      setLeft(null);
      return;
    }
    const start = Date.now();
    setLeft(seconds);
    const timer = setInterval(() => setLeft(Math.max(0, seconds - (Date.now() - start) / 1000)), 1000);
    return () => clearInterval(timer);
  }, [seconds]);
  return left;
}

export function Countdown({ seconds, label }: { seconds: number; label: (t: string) => string }) {
  const left = useCountdown(seconds);
  return (
    <p class="countdown">
      {/* The visible clock ticks; screen readers get it when they ask (role=timer is not live by default). */}
      <span role="timer" aria-atomic="true">
        {label(clockFmt(left ?? seconds))}
      </span>
    </p>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status.toLowerCase()}`}>{tEnum(status)}</span>;
}

/** The screen's h1; it takes focus when the screen appears, so a screen reader starts there. */
export function Heading({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

export function Loading() {
  return (
    <p class="muted" role="status">
      {t('loading')}
    </p>
  );
}

/** A fare part by part (base, reservation, superfast, Tatkal, GST), parts that are 0 left out. */
export function FareTable({ fare, label }: { fare: FareFragment; label?: string }) {
  const rows: [string, number][] = [
    [t('baseFare'), fare.basePaise],
    [t('reservationCharge'), fare.reservationChargePaise],
    [t('superfastCharge'), fare.superfastChargePaise],
    [t('tatkalCharge'), fare.tatkalChargePaise],
    [t('gst'), fare.gstPaise],
    [t('rounding'), fare.roundingPaise],
  ];
  return (
    <table class="fare">
      <caption>{label ?? t('fareBreakdown')}</caption>
      <tbody>
        {rows
          .filter(([, paise]) => paise !== 0)
          .map(([name, paise]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>{inr(paise)}</td>
            </tr>
          ))}
        <tr class="fare-total">
          <th scope="row">{t('fare')}</th>
          <td>{inr(fare.totalPaise)}</td>
        </tr>
      </tbody>
    </table>
  );
}
