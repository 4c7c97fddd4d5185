// Cancelling some or all passengers of a PNR: the refund quote (the rule table's, by the
// booking subgraph) first, then a confirmation step.
import { useState } from 'preact/hooks';
import type { CancellationQuoteQuery } from '@tatkal/client';
import { client, describeError } from '../api.ts';
import { inr, t } from '../i18n.ts';
import { ErrorNote } from '../ui/common.tsx';
import { codeText, type FullReservation } from './Reservation.tsx';

type Quote = CancellationQuoteQuery['cancellationQuote'];

export function CancelPanel({ r, onDone }: { r: FullReservation; onDone: () => void }) {
  const live = r.passengers.filter((p) => p.status !== 'CANCELLED' && p.status !== 'REFUSED');
  const [chosen, setChosen] = useState<string[]>(live.map((p) => p.id));
  const [confirming, setConfirming] = useState(false);
  const [quote, setQuote] = useState<Quote | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ReturnType<typeof describeError>>(null);
  if (live.length === 0) return null;
  const all = chosen.length === live.length;
  const ask = async () => {
    setBusy(true);
    setError(null);
    setQuote(null);
    try {
      setQuote(await client().cancellationQuote(r.pnr, all ? undefined : chosen));
      setConfirming(true);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      await client().cancel(r.pnr, { passengerIds: all ? undefined : chosen });
      setConfirming(false);
      onDone();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="card cancel">
      <h2>{t('cancel')}</h2>
      {live.length > 1 ? (
        <fieldset>
          <legend class="visually-hidden">{t('cancelPassengers')}</legend>
          {live.map((p) => (
            <label key={p.id} class="check">
              <input
                type="checkbox"
                checked={chosen.includes(p.id)}
                onChange={(e) =>
                  setChosen(e.currentTarget.checked ? [...chosen, p.id] : chosen.filter((id) => id !== p.id))
                }
              />{' '}
              {p.name}
            </label>
          ))}
        </fieldset>
      ) : null}
      {confirming && quote ? (
        <div role="alertdialog" aria-labelledby="cancel-q" aria-describedby="cancel-quote" class="confirm">
          <p id="cancel-q">{t('cancelConfirm')}</p>
          <p id="cancel-quote" class="quote">
            {quote.refusalCode ? (
              <span class="error">{codeText(quote.refusalCode)}</span>
            ) : (
              t('refundQuote', { amount: inr(quote.refundPaise), charges: inr(quote.chargePaise) })
            )}
          </p>
          <button type="button" class="danger" disabled={busy || Boolean(quote.refusalCode)} onClick={cancel}>
            {t('yesCancel')}
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            {t('keep')}
          </button>
        </div>
      ) : (
        <button type="button" class="danger" disabled={busy || chosen.length === 0} onClick={ask}>
          {all ? t('cancel') : t('cancelPassengers')}
        </button>
      )}
      <ErrorNote error={error} />
    </div>
  );
}
