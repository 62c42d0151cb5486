// The campaign board: moves in columns by status, in a stable order, and
// the moves a drag or a key press makes.

/** Where a move stands, in the order the board shows the columns. */
export const MOVE_STATUSES = ["planned", "in_progress", "review", "approved", "live", "done"] as const;
export type MoveStatus = (typeof MOVE_STATUSES)[number];

export const STATUS_LABELS: Record<MoveStatus, string> = {
  planned: "Planned",
  in_progress: "In progress",
  review: "Review",
  approved: "Approved",
  live: "Live",
  done: "Done",
};

/** The fields of a move the board needs. */
export interface BoardMove {
  title: string;
  status: MoveStatus;
  channel: string;
  due_date: string | null;
}

export interface Card<M extends BoardMove = BoardMove> {
  id: string;
  move: M;
}

export function isMoveStatus(value: string): value is MoveStatus {
  return (MOVE_STATUSES as readonly string[]).includes(value);
}

/**
 * The moves of a campaign by column. Within a column, moves with a due date
 * come first, soonest first; then by title, then by id, so that the order
 * never changes between renders.
 */
export function columns<M extends BoardMove>(moves: Record<string, M>): Record<MoveStatus, Card<M>[]> {
  const grouped = Object.fromEntries(MOVE_STATUSES.map((status) => [status, [] as Card<M>[]])) as Record<MoveStatus, Card<M>[]>;
  for (const [id, move] of Object.entries(moves)) {
    grouped[move.status].push({ id, move });
  }
  for (const status of MOVE_STATUSES) {
    grouped[status].sort(compareCards);
  }
  return grouped;
}

function compareCards(a: Card, b: Card): number {
  const due = (c: Card) => c.move.due_date ?? "\uffff";
  return due(a).localeCompare(due(b)) || a.move.title.localeCompare(b.move.title) || a.id.localeCompare(b.id);
}

/** The column to the left (-1) or right (+1) of `status`; null at the edges. */
export function neighbour(status: MoveStatus, direction: -1 | 1): MoveStatus | null {
  const index = MOVE_STATUSES.indexOf(status) + direction;
  return MOVE_STATUSES[index] ?? null;
}

/**
 * The status change a key press on a focused card asks for: Alt+ArrowRight
 * and Alt+ArrowLeft move it one column; anything else, nothing.
 */
export function statusForKey(status: MoveStatus, key: string, altKey: boolean): MoveStatus | null {
  if (!altKey) return null;
  if (key === "ArrowRight") return neighbour(status, 1);
  if (key === "ArrowLeft") return neighbour(status, -1);
  return null;
}

/** What a drop of card `id` on column `target` changes: nothing when it stays put. */
export function dropChange(moves: Record<string, BoardMove>, id: string, target: string): { id: string; status: MoveStatus } | null {
  const move = moves[id];
  if (!move || !isMoveStatus(target) || move.status === target) return null;
  return { id, status: target };
}
