// Which engine the components call: the Tauri one in the app, a fake in tests.
import { createContext, useContext, type ReactNode } from "react";

import { tauriEngine, type Engine } from "./api";

const EngineContext = createContext<Engine>(tauriEngine);

export function EngineProvider({ engine, children }: { engine: Engine; children: ReactNode }) {
  return <EngineContext.Provider value={engine}>{children}</EngineContext.Provider>;
}

export function useEngine(): Engine {
  return useContext(EngineContext);
}
