// The engine as the interface calls it: the commands generated from the
// Rust types (bindings.ts), the change events, and the two things the window
// itself provides (the open-file dialog and files dropped on it). Tests run
// this same code over Tauri's IPC mock with a fake backend (fake/backend.ts).
import { open } from "@tauri-apps/plugin-dialog";
import { getCurrentWebview } from "@tauri-apps/api/webview";

import { commands, events, type CoreEvent, type RunEventRecord } from "./bindings";

export type Commands = typeof commands;

export interface Engine extends Commands {
  /**
   * Calls `listener` whenever the engine's data changes, whoever changed it
   * (this window, the CLI, a teammate through sync); returns the unsubscribe.
   */
  onChange(listener: () => void): Promise<() => void>;
  /** Calls `listener` with each of the engine's events (downloads, budgets...). */
  onEvent(listener: (event: CoreEvent) => void): Promise<() => void>;
  /** Calls `listener` with each event of the swarm's runs, streamed text included. */
  onRunEvent(listener: (event: RunEventRecord) => void): Promise<() => void>;
  /** Asks the user for files to import; an empty list when they cancel. */
  pickFiles(): Promise<string[]>;
  /** Calls `listener` with the paths of files dropped on the window. */
  onFilesDropped(listener: (paths: string[]) => void): Promise<() => void>;
}

export const tauriEngine: Engine = {
  ...commands,
  onChange: (listener) => events.coreEvent.listen(() => listener()),
  onEvent: (listener) => events.coreEvent.listen((event) => listener(event.payload)),
  onRunEvent: (listener) => events.runEvent.listen((event) => listener(event.payload)),
  async pickFiles() {
    const chosen = await open({ multiple: true, directory: false, title: "Import into the Codex" });
    if (chosen === null) return [];
    return Array.isArray(chosen) ? chosen : [chosen];
  },
  onFilesDropped: (listener) =>
    getCurrentWebview().onDragDropEvent((event) => {
      if (event.payload.type === "drop" && event.payload.paths.length > 0) listener(event.payload.paths);
    }),
};
