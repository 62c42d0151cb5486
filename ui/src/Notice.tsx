// A backend error as a readable notice.
import { Alert } from "@mantine/core";

import { notice } from "./errors";

export function ErrorNotice({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  const { title, message } = notice(error);
  return (
    <Alert color="red" title={title} role="alert" mb="md">
      {message}
    </Alert>
  );
}
