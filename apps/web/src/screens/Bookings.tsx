// The traveller's bookings, newest first, and a PNR look-up.
import { useEffect, useState } from 'preact/hooks';
import type { MyReservationsQuery } from '@tatkal/client';
import { client, describeError, session } from '../api.ts';
import { dayFmt, inr, t } from '../i18n.ts';
import { href, navigate } from '../router.ts';
import { useValue } from '../store.ts';
import { ErrorNote, Heading, Loading, StatusBadge } from '../ui/common.tsx';

type Page = MyReservationsQuery['myReservations'];

export function BookingsScreen() {
  const signedIn = useValue(session) !== null;
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<ReturnType<typeof describeError>>(null);
  useEffect(() => {
    if (!signedIn) navigate('/signin', { next: '#/bookings' });
    else client().myReservations().then(setPage, (err) => setError(describeError(err)));
  }, [signedIn]);
  return (
    <section>
      <Heading>{t('myBookingsTitle')}</Heading>
      <ErrorNote error={error} />
      {!page && !error ? <Loading /> : null}
      {page && page.nodes.length === 0 ? <p>{t('noBookings')}</p> : null}
      <ul class="bookings">
        {page?.nodes.map((r) => (
          <li key={r.id} class="card">
            <a href={href(`/pnr/${r.pnr}`)}>
              <strong>{t('pnr', { pnr: r.pnr })}</strong>
            </a>{' '}
            <StatusBadge status={r.status} />
            <br />
            {t('train', { number: r.run.trainNumber })} · {dayFmt(r.run.date)} · {r.from.code} → {r.to.code} ·{' '}
            {inr(r.farePaise)}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function PnrLookupScreen() {
  return (
    <section>
      <Heading>{t('pnrTitle')}</Heading>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          const pnr = String(new FormData(e.currentTarget).get('pnr') ?? '').trim();
          navigate(`/pnr/${pnr}`);
        }}
      >
        <div class="field">
          <label for="pnr">{t('pnrLabel')}</label>
          <input id="pnr" name="pnr" inputMode="numeric" pattern="[0-9]{10}" maxLength={10} required />
        </div>
        <button type="submit" class="primary">
          {t('check')}
        </button>
      </form>
    </section>
  );
}
