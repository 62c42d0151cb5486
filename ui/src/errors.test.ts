import { fieldError, notice, toAppError } from "./errors";

describe("engine errors", () => {
  it("reads the shell's {kind, message, field} and titles it for people", () => {
    const error = { kind: "invalid_input", message: "invalid workspace name: use 1 to 100 characters", field: "name" };
    expect(toAppError(error)).toEqual(error);
    expect(notice(error)).toEqual({ title: "Please check what you entered", message: "invalid workspace name: use 1 to 100 characters" });
    expect(fieldError(error, "name")).toBe("invalid workspace name: use 1 to 100 characters");
    expect(fieldError(error, "goal")).toBeUndefined();
  });

  it("never shows a raw dump: unknown shapes become a plain message", () => {
    expect(toAppError({ kind: "weird", message: 3 }).kind).toBe("internal");
    expect(notice(new Error("boom")).message).toBe("boom");
    expect(notice({ nested: { stack: "..." } }).message).toBe("the app got an error it could not read");
    expect(notice({ kind: "storage", message: "x".repeat(1000) }).message).toHaveLength(401);
  });
});
