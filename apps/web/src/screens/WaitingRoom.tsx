// A QUEUED reservation: the Tatkal waiting room's countdown to the opening, then the queue's
// moving position and estimated wait, from the client's onProgress; leaving the screen aborts the polling.
import { useEffect, useState } from 'preact/hooks';
import type { Reservation } from '@tatkal/client';
import { client, describeError } from '../api.ts';
import { clockFmt, t } from '../i18n.ts';
import { Countdown, ErrorNote } from '../ui/common.tsx';

export function WaitingRoom({ reservation, onOutcome }: { reservation: Reservation; onOutcome: () => void }) {
  const [now, setNow] = useState(reservation);
  const [error, setError] = useState<ReturnType<typeof describeError>>(null);
  useEffect(() => {
    const controller = new AbortController();
    client()
      .waitForOutcome(reservation, {
        signal: controller.signal,
        // A waiting room may be minutes long: keep polling (the client paces itself by the estimate).
        timeoutMs: 60 * 60_000,
        onProgress: setNow,
      })
      .then(
        (final) => final.status !== 'QUEUED' && onOutcome(),
        (err) => setError(describeError(err)),
      );
    return () => controller.abort();
  }, [reservation.pnr]);

  const inRoom = now.opensAt !== null && now.queuePosition === null;
  return (
    <div class="card waiting" aria-busy="true">
      <h2>{t('waitingRoomTitle')}</h2>
      {inRoom ? (
        <>
          <p>{t('waitingRoom')}</p>
          {/* estimatedWaitSeconds is the time to the opening by the server's clock, not the phone's. */}
          <Countdown seconds={now.estimatedWaitSeconds ?? 0} label={(c) => t('opensIn', { t: c })} />
        </>
      ) : (
        <>
          <p class="position" role="status" aria-live="polite" data-position={now.queuePosition ?? ''}>
            {now.queuePosition !== null ? t('position', { n: now.queuePosition }) : t('QUEUED')}
          </p>
          {now.estimatedWaitSeconds !== null ? (
            <p>{t('estimatedWait', { t: clockFmt(now.estimatedWaitSeconds) })}</p>
          ) : null}
          <progress aria-label={t('QUEUED')} />
        </>
      )}
      <p class="muted">{t('keepOpen')}</p>
      <ErrorNote error={error} />
    </div>
  );
}
