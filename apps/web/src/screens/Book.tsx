// The passenger form for one class and quota of a run: its availability, fare and window (a
// countdown to a Tatkal opening), at most the quota's passengers, names in any Indian script.
import { useEffect, useState } from 'preact/hooks';
import type { AvailabilityFragment, BerthType, Gender, MeQuery, Quota, TravelClass } from '@tatkal/client';
import { client, describeError, session } from '../api.ts';
import { dayFmt, inr, instantFmt, t, tEnum } from '../i18n.ts';
import { href, navigate } from '../router.ts';
import { useValue } from '../store.ts';
import { Countdown, ErrorNote, FareTable, Heading, Loading } from '../ui/common.tsx';
import { availabilityText } from './Search.tsx';

const MAX_PASSENGERS: Record<Quota, number> = {
  GENERAL: 6,
  TATKAL: 4,
  PREMIUM_TATKAL: 4,
  LADIES: 6,
  LOWER_BERTH: 2,
};
const SEAT_CLASSES: TravelClass[] = ['CHAIR_CAR', 'EXEC_CHAIR', 'SECOND_SEATING'];
const BERTHS: BerthType[] = ['LB', 'MB', 'UB', 'SL', 'SU'];
const SEATS: BerthType[] = ['WS', 'MS', 'AS'];
const GENDERS: Gender[] = ['FEMALE', 'MALE', 'OTHER'];

interface Row {
  name: string;
  age: string;
  gender: Gender;
  berthPreference: BerthType | '';
}
const emptyRow = (): Row => ({ name: '', age: '', gender: 'FEMALE', berthPreference: '' });

export function BookScreen({ query }: { query: URLSearchParams }) {
  const cls = query.get('class') as TravelClass;
  const quota = (query.get('quota') as Quota) ?? 'GENERAL';
  const from = query.get('from')!;
  const to = query.get('to')!;
  const runId = query.get('run')!;
  const signedIn = useValue(session) !== null;
  const [avail, setAvail] = useState<AvailabilityFragment | null | undefined>(undefined);
  const [me, setMe] = useState<MeQuery['me']>(null);
  const [rows, setRows] = useState<Row[]>([emptyRow()]);
  const [error, setError] = useState<ReturnType<typeof describeError>>(null);
  const [busy, setBusy] = useState(false);
  const max = MAX_PASSENGERS[quota];

  useEffect(() => {
    client()
      .availability({ runId, from, to, class: cls, quota })
      .then((list) => setAvail(list[0] ?? null), (err) => setError(describeError(err)));
    if (signedIn) client().me().then(setMe, () => {});
  }, []);

  const update = (i: number, patch: Partial<Row>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const tatkal = quota === 'TATKAL' || quota === 'PREMIUM_TATKAL';
  const mustVerify = tatkal && me !== null && !me.identityVerified;
  const here = location.hash;

  const onSubmit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const reservation = await client().reserve(
        {
          runId,
          from,
          to,
          class: cls,
          quota,
          passengers: rows.map((r) => ({
            name: r.name.trim(),
            age: Number(r.age),
            gender: r.gender,
            berthPreference: r.berthPreference || undefined,
          })),
        },
        // The reservation's own page waits for the queue (and keeps waiting after a reload).
        { wait: false },
      );
      navigate(`/pnr/${reservation.pnr}`);
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };

  const preferences = SEAT_CLASSES.includes(cls) ? SEATS : BERTHS;
  const opensIn = avail && !avail.open ? (new Date(avail.opensAt).getTime() - Date.now()) / 1000 : null;
  return (
    <section>
      <Heading>{t('bookTitle')}</Heading>
      <div class="card">
        <p>
          <strong>
            {query.get('train')} {query.get('name')}
          </strong>
          <br />
          {from} → {to} · {dayFmt(query.get('date')!)} · {avail?.code ?? cls} · {tEnum(quota)}
        </p>
        {avail === undefined && !error ? <Loading /> : null}
        {avail ? (
          <p>
            <span class={avail.availableBerths > 0 ? 'ok' : 'warn'}>{availabilityText(avail)}</span> ·{' '}
            {inr(avail.farePaise)} {t('perPassenger')}
            {avail.open ? null : <> · {t('opensAt', { at: instantFmt(avail.opensAt) })}</>}
          </p>
        ) : null}
        {avail ? <FareTable fare={avail.fare} /> : null}
        {opensIn !== null && opensIn > 0 && tatkal ? (
          <>
            <Countdown seconds={opensIn} label={(c) => t('tatkalCountdown', { t: c })} />
            <p class="muted">{t('tatkalWaiting')}</p>
          </>
        ) : null}
      </div>
      <form class="card" onSubmit={onSubmit}>
        <p class="muted">
          {t('namesAnyScript')} {t('maxPassengers', { n: max })}
        </p>
        {rows.map((row, i) => (
          <fieldset key={i} class="passenger">
            <legend>{t('passenger', { n: i + 1 })}</legend>
            <div class="field">
              <label for={`p${i}-name`}>{t('name')}</label>
              <input
                id={`p${i}-name`}
                name={`p${i}-name`}
                required
                maxLength={60}
                autoComplete="off"
                value={row.name}
                onInput={(e) => update(i, { name: e.currentTarget.value })}
              />
            </div>
            <div class="row">
              <div class="field">
                <label for={`p${i}-age`}>{t('age')}</label>
                <input
                  id={`p${i}-age`}
                  type="number"
                  inputMode="numeric"
                  min={1}
                  max={125}
                  required
                  value={row.age}
                  onInput={(e) => update(i, { age: e.currentTarget.value })}
                />
              </div>
              <div class="field">
                <label for={`p${i}-gender`}>{t('gender')}</label>
                <select
                  id={`p${i}-gender`}
                  value={row.gender}
                  onChange={(e) => update(i, { gender: e.currentTarget.value as Gender })}
                >
                  {GENDERS.map((g) => (
                    <option key={g} value={g}>
                      {tEnum(g)}
                    </option>
                  ))}
                </select>
              </div>
              <div class="field">
                <label for={`p${i}-berth`}>{t('berthPreference')}</label>
                <select
                  id={`p${i}-berth`}
                  value={row.berthPreference}
                  onChange={(e) => update(i, { berthPreference: e.currentTarget.value as BerthType | '' })}
                >
                  <option value="">{t('noPreference')}</option>
                  {preferences.map((b) => (
                    <option key={b} value={b}>
                      {tEnum(b)}
                    </option>
                  ))}
                </select>
              </div>
            </div>
            {rows.length > 1 ? (
              <button type="button" class="link" onClick={() => setRows(rows.filter((_, j) => j !== i))}>
                {t('removePassenger', { n: i + 1 })}
              </button>
            ) : null}
          </fieldset>
        ))}
        {rows.length < max ? (
          <button type="button" onClick={() => setRows([...rows, emptyRow()])}>
            {t('addPassenger')}
          </button>
        ) : null}
        {avail ? <p class="total">{t('total', { amount: inr(avail.farePaise * rows.length) })}</p> : null}
        <ErrorNote error={error} />
        {!signedIn ? (
          <a class="button primary" href={href('/signin', { next: here })}>
            {t('signInToBook')}
          </a>
        ) : mustVerify ? (
          <a class="button primary" href={href('/verify', { next: here })}>
            {t('verifyToBook')}
          </a>
        ) : (
          <button type="submit" class="primary" disabled={busy}>
            {t('reserve')}
          </button>
        )}
      </form>
    </section>
  );
}
