// The app's shell: fonts and styles, the header (navigation, language switch), the screen of the route.
import '@fontsource/noto-sans-devanagari/devanagari-400.css';
import '@fontsource/noto-sans-devanagari/devanagari-600.css';
import './styles.css';
import { render } from 'preact';
import { connect, session } from './api.ts';
import { lang, setLang, t } from './i18n.ts';
import { href, route } from './router.ts';
import { useValue } from './store.ts';
import { AuthScreen, VerifyScreen } from './screens/Auth.tsx';
import { BookScreen } from './screens/Book.tsx';
import { BookingsScreen, PnrLookupScreen } from './screens/Bookings.tsx';
import { ReservationScreen } from './screens/Reservation.tsx';
import { SearchScreen } from './screens/Search.tsx';
import { client } from './api.ts';

function Screen() {
  const { path, query } = useValue(route);
  const [first, second] = path;
  // key: a new screen (not an update of the old one) per route, so each starts from its own state.
  const key = `${path.join('/')}?${query.toString()}`;
  switch (first) {
    case 'signin':
    case 'register':
      return <AuthScreen key={key} mode={first} next={query.get('next')} />;
    case 'verify':
      return <VerifyScreen key={key} next={query.get('next')} />;
    case 'book':
      return <BookScreen key={key} query={query} />;
    case 'bookings':
      return <BookingsScreen key={key} />;
    case 'pnr':
      return second ? <ReservationScreen key={second} pnr={second} /> : <PnrLookupScreen key={key} />;
    default:
      return <SearchScreen key={key} query={query} />;
  }
}

function App() {
  const current = useValue(lang);
  const user = useValue(session)?.user;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        {t('skip')}
      </a>
      <header>
        <a class="brand" href={href('/')}>
          {t('appName')}
        </a>
        <nav aria-label={t('appName')}>
          <a href={href('/')}>{t('navSearch')}</a>
          <a href={href('/pnr')}>{t('navPnr')}</a>
          {user ? <a href={href('/bookings')}>{t('navBookings')}</a> : null}
          {user ? (
            <button type="button" class="link" onClick={() => void client().signOut()}>
              {t('navSignOut')}
            </button>
          ) : (
            <a href={href('/signin')}>{t('navSignIn')}</a>
          )}
          <button
            type="button"
            class="link lang"
            lang={current === 'en' ? 'hi' : 'en'}
            aria-label={t('languageLabel')}
            onClick={() => setLang(current === 'en' ? 'hi' : 'en')}
          >
            {t('language')}
          </button>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Screen />
      </main>
    </>
  );
}

document.documentElement.lang = lang.get();
connect().then(() => render(<App />, document.getElementById('app')!));
