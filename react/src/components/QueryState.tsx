import { Alert, Button, Loader } from "@mantine/core";
import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../api/client";

/** The small spinner a section shows while its data is on its way. */
export function Loading() {
  return <Loader size="sm" aria-label="loading" />;
}

/** Loading, error (with the system that failed and a retry) or the content: one convention for every section. */
export function QueryState<T>({ query, children }: { query: UseQueryResult<T>; children: (data: T) => ReactNode }) {
  const { t } = useTranslation();
  if (query.isPending) return <Loading />;
  if (query.isError) {
    const error = query.error;
    const body = error instanceof ApiError ? error.body : null;
    const message = body?.system
      ? t("errors.unavailable", { system: body.system.toUpperCase(), detail: body.detail })
      : t("errors.generic", { detail: error.message });
    return (
      <Alert color="red" title={message} role="alert">
        <Button size="xs" variant="light" onClick={() => query.refetch()}>
          {t("errors.retry")}
        </Button>
      </Alert>
    );
  }
  return <>{children(query.data as T)}</>;
}
