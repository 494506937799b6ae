import { useCallback, useEffect, useState } from "react";
import { query } from "./api";

export interface QueryState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs a GraphQL query whenever its text or variables change. */
export function useQuery<T>(text: string, variables: Record<string, unknown> = {}, skip = false): QueryState<T> {
  const key = JSON.stringify(variables);
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: !skip });
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  useEffect(() => {
    if (skip) return;
    const controller = new AbortController();
    setState((old) => ({ data: old.data, loading: true }));
    query<T>(text, JSON.parse(key) as Record<string, unknown>, controller.signal).then(
      (data) => setState({ data, loading: false }),
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ error, loading: false });
      },
    );
    return () => controller.abort();
  }, [text, key, skip, generation]);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** The current unix time in seconds, ticking every `everyMs`. */
export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now() / 1000), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export type Theme = "light" | "dark";

/** Light/dark theme: the saved choice, else the system's. */
export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(() => {
    const saved = localStorage.getItem("explorer-theme");
    if (saved === "light" || saved === "dark") return saved;
    return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  });
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const toggle = useCallback(() => {
    setTheme((old) => {
      const next = old === "dark" ? "light" : "dark";
      localStorage.setItem("explorer-theme", next);
      return next;
    });
  }, []);
  return [theme, toggle];
}
