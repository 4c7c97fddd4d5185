// Stations as you type, then the trains between them on a date with each class's availability,
// fare and window opening for the chosen quota.
import { useEffect, useState } from 'preact/hooks';
import type { AvailabilityFragment, Quota, TrainsBetweenQuery } from '@tatkal/client';
import { client, describeError } from '../api.ts';
import { dayFmt, inr, instantFmt, t, tEnum, todayIST } from '../i18n.ts';
import { href, navigate } from '../router.ts';
import { ErrorNote, Heading, Loading } from '../ui/common.tsx';
import { StationInput, type Station } from '../ui/StationInput.tsx';

export const QUOTAS: Quota[] = ['GENERAL', 'TATKAL', 'PREMIUM_TATKAL', 'LADIES', 'LOWER_BERTH'];
type Train = TrainsBetweenQuery['trainsBetween'][number];

/** The server's "AVAILABLE 42" / "RAC 12" / "WL 34" / "REGRET" in the app's language. */
export function availabilityText(a: AvailabilityFragment): string {
  const [kind, n = ''] = a.statusCode.split(' ');
  if (kind === 'AVAILABLE') return t('available', { n });
  if (kind === 'RAC') return t('racNumber', { n });
  if (kind === 'WL') return t('waitlist', { n });
  if (kind === 'REGRET') return t('regret');
  return a.statusCode;
}

const station = (q: URLSearchParams, k: string): Station | null => {
  const code = q.get(k);
  return code ? { code, name: q.get(`${k}Name`) ?? code } : null;
};

export function SearchScreen({ query }: { query: URLSearchParams }) {
  const [from, setFrom] = useState<Station | null>(station(query, 'from'));
  const [to, setTo] = useState<Station | null>(station(query, 'to'));
  const [date, setDate] = useState(query.get('date') ?? todayIST(1));
  const [quota, setQuota] = useState<Quota>((query.get('quota') as Quota) ?? 'GENERAL');
  const [trains, setTrains] = useState<Train[] | null>(null);
  const [error, setError] = useState<ReturnType<typeof describeError>>(null);
  const asked = query.get('from') && query.get('to') && query.get('date');

  useEffect(() => {
    if (!asked) return;
    const q = { from: query.get('from')!, to: query.get('to')!, date: query.get('date')! };
    client()
      .trainsBetween({ ...q, quota: (query.get('quota') as Quota) ?? 'GENERAL' })
      .then(setTrains, (err) => setError(describeError(err)));
  }, []);

  const onSubmit = (e: Event) => {
    e.preventDefault();
    if (!from || !to) return;
    navigate('/', { from: from.code, fromName: from.name, to: to.code, toName: to.name, date, quota });
  };

  return (
    <section>
      <Heading>{t('searchTitle')}</Heading>
      <form class="card search" onSubmit={onSubmit}>
        <StationInput label={t('from')} value={from} onChange={setFrom} />
        <StationInput label={t('to')} value={to} onChange={setTo} />
        <div class="row">
          <div class="field">
            <label for="date">{t('date')}</label>
            <input
              id="date"
              type="date"
              value={date}
              min={todayIST()}
              required
              onInput={(e) => setDate(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="quota">{t('quota')}</label>
            <select id="quota" value={quota} onChange={(e) => setQuota(e.currentTarget.value as Quota)}>
              {QUOTAS.map((q) => (
                <option key={q} value={q}>
                  {tEnum(q)}
                </option>
              ))}
            </select>
          </div>
        </div>
        <button type="submit" class="primary" disabled={!from || !to}>
          {t('findTrains')}
        </button>
      </form>
      <ErrorNote error={error} />
      {asked && !trains && !error ? <Loading /> : null}
      {trains ? <TrainList trains={trains} query={query} /> : null}
    </section>
  );
}

function TrainList({ trains, query }: { trains: Train[]; query: URLSearchParams }) {
  if (trains.length === 0) return <p role="status">{t('noTrains')}</p>;
  return (
    <>
      <h2 aria-live="polite">
        {t('trainsFound', { n: trains.length })} · {dayFmt(query.get('date')!)}
      </h2>
      <ul class="trains">
        {trains.map((train) => (
          <li key={train.number} class="card train">
            <h3>
              <span class="code">{train.number}</span> {train.name}
            </h3>
            <p class="times">
              <span>
                {t('departs')} <strong>{train.departure}</strong>
              </span>
              <span>
                {t('arrives')} <strong>{train.arrival}</strong>
              </span>
              <span>{t('duration', { h: Math.floor(train.durationMinutes / 60), m: train.durationMinutes % 60 })}</span>
            </p>
            {train.run?.cancelled ? <p class="error">{t('runCancelled')}</p> : null}
            <ul class="classes">
              {(train.run?.availability ?? []).map((a) => (
                <li key={a.class}>
                  <a
                    class="class-chip"
                    href={href('/book', {
                      run: train.run!.id,
                      train: train.number,
                      name: train.name,
                      date: query.get('date')!,
                      from: query.get('from')!,
                      to: query.get('to')!,
                      class: a.class,
                      quota: a.quota,
                    })}
                  >
                    {/* Read as "Book 3A, Available 42, ₹1,234": the name is the visible text plus the verb. */}
                    <strong>
                      <span class="visually-hidden">{t('book', { cls: '' }).trim()} </span>
                      {a.code}
                    </strong>
                    <span class={a.availableBerths > 0 ? 'ok' : 'warn'}>{availabilityText(a)}</span>
                    <span>{inr(a.farePaise)}</span>
                    {a.open ? null : <small>{t('opensAt', { at: instantFmt(a.opensAt) })}</small>}
                  </a>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </>
  );
}
