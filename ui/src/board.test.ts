import { columns, dropChange, neighbour, statusForKey, MOVE_STATUSES, type BoardMove } from "./board";

const move = (title: string, status: BoardMove["status"], due_date: string | null = null): BoardMove => ({ title, status, channel: "email", due_date });

describe("columns", () => {
  it("puts every move in the column of its status, soonest due first, then by title", () => {
    const grouped = columns({
      a: move("Launch email", "planned"),
      b: move("Blog post", "planned", "2027-02-01"),
      c: move("Webinar", "planned", "2027-01-10"),
      d: move("Ads", "review"),
      e: move("Another", "planned"),
    });
    expect(grouped.planned.map((c) => c.id)).toEqual(["c", "b", "e", "a"]);
    expect(grouped.review.map((c) => c.id)).toEqual(["d"]);
    expect(Object.keys(grouped)).toEqual([...MOVE_STATUSES]);
    expect(grouped.done).toEqual([]);
  });

  it("orders moves with the same title and date by id, so renders are stable", () => {
    const grouped = columns({ z: move("Same", "live"), y: move("Same", "live") });
    expect(grouped.live.map((c) => c.id)).toEqual(["y", "z"]);
  });
});

describe("keyboard and drag", () => {
  it("moves a card one column with Alt+arrows and stops at the edges", () => {
    expect(statusForKey("planned", "ArrowRight", true)).toBe("in_progress");
    expect(statusForKey("review", "ArrowLeft", true)).toBe("in_progress");
    expect(statusForKey("planned", "ArrowLeft", true)).toBeNull();
    expect(statusForKey("done", "ArrowRight", true)).toBeNull();
    expect(statusForKey("planned", "ArrowRight", false)).toBeNull();
    expect(statusForKey("planned", "Enter", true)).toBeNull();
    expect(neighbour("live", 1)).toBe("done");
  });

  it("turns a drop into a status change only when the column differs", () => {
    const moves = { a: move("Launch", "planned") };
    expect(dropChange(moves, "a", "review")).toEqual({ id: "a", status: "review" });
    expect(dropChange(moves, "a", "planned")).toBeNull();
    expect(dropChange(moves, "missing", "review")).toBeNull();
    expect(dropChange(moves, "a", "shipped")).toBeNull();
  });
});
