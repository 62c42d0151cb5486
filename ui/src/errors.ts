// Errors from the engine arrive as {kind, message, field?} (the shell's
// conversion of rf-core's errors). They are shown as readable notices,
// never as raw dumps.

export type ErrorKind =
  | "invalid_input"
  | "not_found"
  | "conflict"
  | "storage"
  | "network"
  | "permission_denied"
  | "budget_exceeded"
  | "internal";

export interface AppError {
  kind: ErrorKind;
  message: string;
  /** The form field the error is about, when there is one. */
  field?: string | null;
}

const TITLES: Record<ErrorKind, string> = {
  invalid_input: "Please check what you entered",
  not_found: "It is no longer there",
  conflict: "That clashes with something that exists",
  storage: "Could not save or read your data",
  network: "Could not reach the server",
  permission_denied: "Not allowed",
  budget_exceeded: "Over budget",
  internal: "Something went wrong",
};

const KINDS = new Set(Object.keys(TITLES));

/** Whatever a command rejected with, as an AppError. */
export function toAppError(error: unknown): AppError {
  if (typeof error === "object" && error !== null && "kind" in error && "message" in error) {
    const { kind, message, field } = error as { kind: unknown; message: unknown; field?: unknown };
    if (typeof kind === "string" && KINDS.has(kind) && typeof message === "string") {
      return { kind: kind as ErrorKind, message, field: typeof field === "string" ? field : null };
    }
  }
  if (error instanceof Error) return { kind: "internal", message: error.message, field: null };
  if (typeof error === "string") return { kind: "internal", message: error, field: null };
  return { kind: "internal", message: "the app got an error it could not read", field: null };
}

/** The title and text of the notice for an error. */
export function notice(error: unknown): { title: string; message: string } {
  const appError = toAppError(error);
  const message = appError.message.length > 400 ? `${appError.message.slice(0, 400)}…` : appError.message;
  return { title: TITLES[appError.kind], message };
}

/** The message for one form field, if the error is about it. */
export function fieldError(error: unknown, field: string): string | undefined {
  if (error === null || error === undefined) return undefined;
  const appError = toAppError(error);
  return appError.field === field ? appError.message : undefined;
}
