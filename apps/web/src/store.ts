// A value screens re-render on: get/set/subscribe, and a hook that subscribes a component.
import { useEffect, useState } from 'preact/hooks';

export interface Signal<T> {
  get(): T;
  set(value: T): void;
  subscribe(listener: (value: T) => void): () => void;
}

export function signal<T>(initial: T): Signal<T> {
  let value = initial;
  const listeners = new Set<(value: T) => void>();
  return {
    get: () => value,
    set(next) {
      if (Object.is(next, value)) return;
      value = next;
      for (const l of [...listeners]) l(value);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The signal's value; the component renders again when it changes. */
export function useValue<T>(s: Signal<T>): T {
  const [, rerender] = useState(0);
  useEffect(() => s.subscribe(() => rerender((n) => n + 1)), [s]);
  return s.get();
}
