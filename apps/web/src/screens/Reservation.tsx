// A PNR's page: the waiting room while QUEUED, then the outcome per passenger (coach/berth, WL
// number), paying within the hold (the provider's checkout page), cancelling and the refund.
import { useEffect, useState } from 'preact/hooks';
import type { ReservationQuery } from '@tatkal/client';
import { client, describeError } from '../api.ts';
import { dayFmt, inr, t, tEnum, type MessageKey } from '../i18n.ts';
import { Countdown, ErrorNote, FareTable, Heading, Loading, StatusBadge } from '../ui/common.tsx';
import { WaitingRoom } from './WaitingRoom.tsx';
import { CancelPanel } from './Cancel.tsx';

/** A documented error code in words, when the app has them (else the code itself). */
export const codeText = (code: string) => (CODES.includes(code) ? t(code as MessageKey) : code);
const CODES = ['CANCELLATION_CLOSED', 'TRY_AGAIN', 'SOLD_OUT', 'SEAT_UNAVAILABLE'];

export type FullReservation = NonNullable<ReservationQuery['reservation']>;

/** Polls `fn` every `ms` while `active`: a checkout in another tab, a refund on its way. */
function usePoll(active: boolean, ms: number, fn: () => void) {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  }, [active, ms]);
}

export function ReservationScreen({ pnr }: { pnr: string }) {
  const [r, setR] = useState<FullReservation | null | undefined>(undefined);
  const [error, setError] = useState<ReturnType<typeof describeError>>(null);
  const load = () =>
    client()
      .reservation(pnr)
      .then(setR, (err) => setError(describeError(err)));
  useEffect(() => void load(), [pnr]);

  // Paying: until the checkout's outcome, and for a held booking until the payment event has confirmed it.
  const paying =
    (r?.status === 'HELD' && (r.payment?.status === 'PENDING' || r.payment?.status === 'SUCCEEDED')) ||
    (r?.status === 'WAITLISTED' && r.payment?.status === 'PENDING');
  const refundPending =
    r?.status === 'CANCELLED' && r.payment?.status === 'SUCCEEDED' && r.payment.refunds.every((x) => x.status !== 'SUCCEEDED');
  usePoll(Boolean(paying || refundPending), 1000, () => void load());

  if (r === undefined && !error) return <Loading />;
  if (r === null) return <p role="alert">{t('notFound')}</p>;
  return (
    <section>
      <Heading>{t('pnr', { pnr })}</Heading>
      <ErrorNote error={error} />
      {r ? (
        <>
          <div class="card">
            <p>
              <StatusBadge status={r.status} /> <span class="muted">{tEnum(r.quota)}</span>
            </p>
            <p>
              <strong>{t('train', { number: r.run.trainNumber })}</strong> · {dayFmt(r.run.date)}
              <br />
              {t('journey', { from: `${r.from.name} (${r.from.code})`, to: `${r.to.name} (${r.to.code})` })}
            </p>
            {r.status === 'REFUSED' && r.refusalCode ? <p class="error">{codeText(r.refusalCode)}</p> : null}
            {r.chartPrepared ? <p class="muted">{t('chartPrepared')}</p> : null}
            <Passengers r={r} />
            <p>
              {t('fare')}: <strong>{inr(r.farePaise)}</strong>
            </p>
            {r.fare && r.farePaise > 0 ? <FareTable fare={r.fare} /> : null}
          </div>
          {r.status === 'QUEUED' ? <WaitingRoom reservation={r} onOutcome={() => void load()} /> : null}
          {r.status === 'HELD' || (r.status === 'WAITLISTED' && r.holdExpiresAt && r.payment?.status !== 'SUCCEEDED') ? (
            <PayPanel r={r} onChange={() => void load()} />
          ) : null}
          {r.status === 'CONFIRMED' || r.status === 'WAITLISTED' || r.status === 'HELD' ? (
            <CancelPanel r={r} onDone={() => void load()} />
          ) : null}
          {r.payment && r.payment.refunds.length > 0 ? <Refunds refunds={r.payment.refunds} /> : null}
          {refundPending ? <p role="status">{t('refundPending')}</p> : null}
        </>
      ) : null}
    </section>
  );
}

function Passengers({ r }: { r: FullReservation }) {
  return (
    <ol class="passengers">
      {r.passengers.map((p) => (
        <li key={p.id}>
          <span class="name">{p.name}</span> <span class="muted">({p.age})</span> <StatusBadge status={p.status} />{' '}
          {p.coach ? (
            <span class="berth">
              {t('coachBerth', { coach: p.coach, berth: p.berth ?? '', type: p.berthType ? tEnum(p.berthType) : '' })}
            </span>
          ) : null}
          {p.racNumber !== null ? <span class="berth">{t('racNumber', { n: p.racNumber })}</span> : null}
          {p.waitlistNumber !== null ? <span class="berth">{t('wlNumber', { n: p.waitlistNumber })}</span> : null}
          {p.refundPaise !== null ? <span class="muted"> {t('refundFor', { amount: inr(p.refundPaise) })}</span> : null}
        </li>
      ))}
    </ol>
  );
}

function PayPanel({ r, onChange }: { r: FullReservation; onChange: () => void }) {
  const [error, setError] = useState<ReturnType<typeof describeError>>(null);
  const [busy, setBusy] = useState(false);
  const left = r.holdExpiresAt ? (new Date(r.holdExpiresAt).getTime() - Date.now()) / 1000 : 0;
  const checkout = r.payment?.status === 'PENDING' ? r.payment.checkoutUrl : null;
  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      await client().pay(r.id);
      onChange();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="card pay">
      <Countdown seconds={left} label={(c) => t('payWithin', { amount: inr(r.farePaise), t: c })} />
      {checkout ? (
        <>
          <a class="button primary" href={checkout} target="_blank" rel="noopener">
            {t('openCheckout')}
          </a>
          <p role="status">{t('checkoutOpened')}</p>
        </>
      ) : (
        <button type="button" class="primary" disabled={busy} onClick={start}>
          {t('pay', { amount: inr(r.farePaise) })}
        </button>
      )}
      <ErrorNote error={error} />
    </div>
  );
}

function Refunds({ refunds }: { refunds: NonNullable<FullReservation['payment']>['refunds'] }) {
  return (
    <div class="card">
      <h2>{t('refunds')}</h2>
      <ul class="refunds">
        {refunds.map((x, i) => (
          <li key={i} data-status={x.status}>
            {t('refund', { amount: inr(x.amountPaise), status: tEnum(x.status) })}
          </li>
        ))}
      </ul>
    </div>
  );
}
