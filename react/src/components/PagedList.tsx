import { Text } from "@mantine/core";
import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import type { Page } from "../api/types";
import { Pager } from "./Pager";
import { QueryState } from "./QueryState";

/** One page of a paged API list: loading and errors (QueryState), an optional count, the rows, then the page links. */
export function PagedList<Row>({
  query,
  page,
  onPageChange,
  countLabel,
  children,
}: {
  query: UseQueryResult<Page<Row>>;
  page: number;
  onPageChange: (page: number) => void;
  /** i18n key of a "{{count}} found" line shown above a list that is not empty. */
  countLabel?: string;
  /** The rows of this page, e.g. as a DataTable (which says when there are none). */
  children: (rows: Row[]) => ReactNode;
}) {
  const { t } = useTranslation();
  return (
    <QueryState query={query}>
      {(data) => (
        <>
          {countLabel && data.count > 0 && (
            <Text size="sm" c="dimmed">
              {t(countLabel, { count: data.count })}
            </Text>
          )}
          {children(data.results)}
          <Pager count={data.count} page={page} onChange={onPageChange} />
        </>
      )}
    </QueryState>
  );
}
