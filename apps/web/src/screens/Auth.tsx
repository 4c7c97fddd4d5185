// Sign in, register, and identity verification (a one-time code to the account's mobile number).
import { useEffect, useState } from 'preact/hooks';
import type { MeQuery, RequestIdentityCodeMutation } from '@tatkal/client';
import { client, describeError } from '../api.ts';
import { instantFmt, t } from '../i18n.ts';
import { href, navigate } from '../router.ts';
import { ErrorNote, Heading, Loading } from '../ui/common.tsx';

type Failure = ReturnType<typeof describeError>;

export function AuthScreen({ mode, next }: { mode: 'signin' | 'register'; next: string | null }) {
  const [error, setError] = useState<Failure>(null);
  const [busy, setBusy] = useState(false);
  const onSubmit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const field = (name: string) => String(form.get(name) ?? '').trim();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'signin') await client().signIn(field('email'), String(form.get('password')));
      else {
        const phone = field('phone');
        await client().register({
          email: field('email'),
          password: String(form.get('password')),
          name: field('name'),
          phone: phone || undefined,
        });
        // A phone to prove: verification next (Tatkal needs it), then where the traveller was going.
        if (phone) return navigate('/verify', { next: next ?? undefined });
      }
      location.hash = next ?? '#/';
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const register = mode === 'register';
  return (
    <section aria-labelledby="auth-title">
      <Heading>
        <span id="auth-title">{register ? t('registerTitle') : t('signInTitle')}</span>
      </Heading>
      <form onSubmit={onSubmit} class="card">
        {register ? (
          <div class="field">
            <label for="name">{t('name')}</label>
            <input id="name" name="name" autoComplete="name" required maxLength={60} />
          </div>
        ) : null}
        <div class="field">
          <label for="email">{t('email')}</label>
          <input id="email" name="email" type="email" autoComplete="email" required />
        </div>
        <div class="field">
          <label for="password">{t('password')}</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete={register ? 'new-password' : 'current-password'}
            minLength={register ? 12 : undefined}
            aria-describedby={register ? 'password-hint' : undefined}
            required
          />
          {register ? (
            <small id="password-hint" class="muted">
              {t('passwordHint')}
            </small>
          ) : null}
        </div>
        {register ? (
          <div class="field">
            <label for="phone">{t('phone')}</label>
            <input
              id="phone"
              name="phone"
              type="tel"
              autoComplete="tel"
              pattern="\+91[6-9][0-9]{9}"
              aria-describedby="phone-hint"
            />
            <small id="phone-hint" class="muted">
              {t('phoneHint')}
            </small>
          </div>
        ) : null}
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {register ? t('register') : t('signIn')}
        </button>
      </form>
      <p>
        <a href={href(register ? '/signin' : '/register', { next: next ?? undefined })}>
          {register ? t('haveAccount') : t('noAccount')}
        </a>
      </p>
    </section>
  );
}

export function VerifyScreen({ next }: { next: string | null }) {
  const [me, setMe] = useState<MeQuery['me'] | undefined>(undefined);
  const [challenge, setChallenge] = useState<RequestIdentityCodeMutation['requestIdentityCode'] | null>(null);
  const [error, setError] = useState<Failure>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    client()
      .me()
      .then(setMe, (err) => setError(describeError(err)));
  }, []);
  const act = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  if (me === undefined && !error) return <Loading />;
  if (me === null) {
    navigate('/signin', { next: '#/verify' });
    return null;
  }
  return (
    <section>
      <Heading>{t('verifyTitle')}</Heading>
      {me?.identityVerified ? (
        <div class="card">
          <p role="status" class="ok">
            {t('verified')}
          </p>
          <a class="button primary" href={next ?? '#/'}>
            {t('navSearch')}
          </a>
        </div>
      ) : (
        <div class="card">
          <p>{t('verifyWhy')}</p>
          <button
            type="button"
            disabled={busy}
            onClick={() => act(async () => setChallenge(await client().requestIdentityCode()))}
          >
            {t('sendCode')}
          </button>
          {challenge ? (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                const code = String(new FormData(e.currentTarget).get('code') ?? '').trim();
                void act(async () => {
                  const done = await client().verifyIdentity(code);
                  setMe({ ...done.user });
                  if (next) location.hash = next;
                });
              }}
            >
              <p role="status">{t('codeSent', { to: challenge.sentTo, at: instantFmt(challenge.expiresAt) })}</p>
              <div class="field">
                <label for="code">{t('code')}</label>
                <input
                  id="code"
                  name="code"
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  pattern="[0-9]{6}"
                  maxLength={6}
                  required
                />
              </div>
              <button type="submit" class="primary" disabled={busy}>
                {t('verify')}
              </button>
            </form>
          ) : null}
        </div>
      )}
      <ErrorNote error={error} />
    </section>
  );
}
