// The engine's error shape ({kind, message, field}) as the fake backend throws it.
export const invalid = (field: string, message: string) => ({ kind: "invalid_input", message, field });
export const notFound = (field: string, id: string) => ({ kind: "not_found", message: `no ${field} ${id}`, field });
