// Cancelling some or all passengers of a PNR, after a confirmation step (and, once the booking
// subgraph quotes it, the refund before the traveller decides).
import { useState } from 'preact/hooks';
import { client, describeError } from '../api.ts';
import { t } from '../i18n.ts';
import { ErrorNote } from '../ui/common.tsx';
import type { FullReservation } from './Reservation.tsx';

export function CancelPanel({ r, onDone }: { r: FullReservation; onDone: () => void }) {
  const live = r.passengers.filter((p) => p.status !== 'CANCELLED' && p.status !== 'REFUSED');
  const [chosen, setChosen] = useState<string[]>(live.map((p) => p.id));
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ReturnType<typeof describeError>>(null);
  if (live.length === 0) return null;
  const all = chosen.length === live.length;
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
      {confirming ? (
        <div role="alertdialog" aria-labelledby="cancel-q" class="confirm">
          <p id="cancel-q">{t('cancelConfirm')}</p>
          <button type="button" class="danger" disabled={busy} onClick={cancel}>
            {t('yesCancel')}
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            {t('keep')}
          </button>
        </div>
      ) : (
        <button type="button" class="danger" disabled={chosen.length === 0} onClick={() => setConfirming(true)}>
          {all ? t('cancel') : t('cancelPassengers')}
        </button>
      )}
      <ErrorNote error={error} />
    </div>
  );
}
