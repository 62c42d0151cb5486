// Which engine the components call: the Tauri one in the app, a fake in tests.
import { createContext, useContext, useEffect, useRef, type ReactNode } from "react";

import { tauriEngine, type Engine } from "./api";
import type { CoreEvent } from "./bindings";

const EngineContext = createContext<Engine>(tauriEngine);

export function EngineProvider({ engine, children }: { engine: Engine; children: ReactNode }) {
  return <EngineContext.Provider value={engine}>{children}</EngineContext.Provider>;
}

export function useEngine(): Engine {
  return useContext(EngineContext);
}

/** Calls `listener` with each of the engine's change events while `active`
 *  (the latest `listener` given; it need not be stable). */
export function useCoreEvents(listener: (event: CoreEvent) => void, active = true) {
  const engine = useEngine();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => {
    if (!active) return;
    let stop: (() => void) | undefined;
    let gone = false;
    void engine
      .onEvent((event) => latest.current(event))
      .then((unlisten) => {
        if (gone) unlisten();
        else stop = unlisten;
      });
    return () => {
      gone = true;
      stop?.();
    };
  }, [engine, active]);
}
