import { Anchor, Card, Group, Stack, Title } from "@mantine/core";
import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link } from "react-router";

import { QueryState } from "./QueryState";

/** A record's page: the link back to its list, then the record's sections once it has loaded. */
export function DetailPage<T>({
  back,
  backLabel,
  query,
  children,
}: {
  back: string;
  backLabel: string;
  query: UseQueryResult<T>;
  children: (data: T) => ReactNode;
}) {
  return (
    <Stack>
      <Anchor component={Link} to={back}>
        ← {backLabel}
      </Anchor>
      <QueryState query={query}>{(data) => <Stack>{children(data)}</Stack>}</QueryState>
    </Stack>
  );
}

/** The card at the top of a record's page: title and details on the left, status or actions on the right. */
export function RecordHeader({
  title,
  aside,
  children,
  footer,
}: {
  title: ReactNode;
  aside?: ReactNode;
  children?: ReactNode;
  footer?: ReactNode;
}) {
  return (
    <Card withBorder>
      <Group justify="space-between">
        <Stack gap={2}>
          <Title order={3}>{title}</Title>
          {children}
        </Stack>
        {aside}
      </Group>
      {footer}
    </Card>
  );
}
