// A station combobox (WAI-ARIA 1.2 pattern): suggestions from searchStations as you type (fuzzy,
// Hindi too), arrow keys to move, Enter to pick, Escape to close. Stale answers are aborted.
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { SearchStationsDocument, type SearchStationsQuery } from '@tatkal/client';
import { client } from '../api.ts';
import { lang, t } from '../i18n.ts';

type Hit = SearchStationsQuery['searchStations'][number];
export interface Station {
  code: string;
  name: string;
}

const DEVANAGARI = /\p{Script=Devanagari}/u;

/** The station's name in the app's language: its Devanagari name (an alias) in Hindi. */
export function stationLabel(s: { name: string; aliases?: string[] }): string {
  const hindi = lang.get() === 'hi' ? s.aliases?.find((a) => DEVANAGARI.test(a)) : undefined;
  return hindi ?? s.name;
}

export function StationInput(props: { label: string; value: Station | null; onChange: (s: Station | null) => void }) {
  const id = useId();
  const [text, setText] = useState(props.value ? `${props.value.name} (${props.value.code})` : '');
  const [hits, setHits] = useState<Hit[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const typed = useRef(false);

  useEffect(() => {
    if (!typed.current || text.trim().length < 2) {
      setHits([]);
      return;
    }
    const controller = new AbortController();
    const debounce = setTimeout(async () => {
      try {
        const res = await client().request(
          SearchStationsDocument,
          { query: text.trim(), first: 6 },
          { signal: controller.signal, retry: false },
        );
        setHits(res.searchStations);
        setOpen(true);
        setActive(res.searchStations.length ? 0 : -1);
      } catch {
        /* aborted or refused: keep the last suggestions */
      }
    }, 150);
    return () => {
      clearTimeout(debounce);
      controller.abort();
    };
  }, [text]);

  const pick = (hit: Hit) => {
    typed.current = false;
    setText(`${stationLabel(hit.station)} (${hit.station.code})`);
    setOpen(false);
    setHits([]);
    props.onChange({ code: hit.station.code, name: stationLabel(hit.station) });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setOpen(true);
      setActive((a) => Math.min(hits.length - 1, a + 1));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => Math.max(0, a - 1));
    } else if (e.key === 'Enter' && open && hits[active]) {
      e.preventDefault();
      pick(hits[active]);
    } else if (e.key === 'Escape') setOpen(false);
  };

  const listId = `${id}-list`;
  const showList = open && text.trim().length >= 2;
  return (
    <div class="field combobox">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        type="text"
        role="combobox"
        autoComplete="off"
        aria-autocomplete="list"
        aria-expanded={showList}
        aria-controls={listId}
        aria-activedescendant={showList && active >= 0 ? `${listId}-${active}` : undefined}
        aria-describedby={`${id}-hint`}
        value={text}
        onInput={(e) => {
          typed.current = true;
          setText(e.currentTarget.value);
          props.onChange(null);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
      />
      <small id={`${id}-hint`} class="muted">
        {t('stationHint')}
      </small>
      <ul id={listId} role="listbox" aria-label={props.label} hidden={!showList}>
        {hits.length === 0 ? (
          <li class="muted" role="option" aria-disabled="true" aria-selected="false">
            {t('noStations')}
          </li>
        ) : (
          hits.map((hit, i) => (
            <li
              key={hit.station.code}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              class={i === active ? 'active' : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(hit);
              }}
            >
              <strong>{stationLabel(hit.station)}</strong> <span class="code">{hit.station.code}</span>
              <br />
              <small class="muted">
                {hit.station.city}, {hit.station.state}
              </small>
            </li>
          ))
        )}
      </ul>
    </div>
  );
}
