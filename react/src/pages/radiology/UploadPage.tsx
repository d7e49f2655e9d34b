import { Alert, Anchor, Badge, Button, Group, Paper, Progress, Stack, Text, Title } from "@mantine/core";
import { useRef, useState } from "react";
import type { DragEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { itemsFromDrop, itemsFromFiles } from "../../api/upload";
import type { ItemProgress, UploadItem } from "../../api/upload";
import { DataTable } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { StatusBadge } from "../../components/StatusBadge";
import { useDicomUpload } from "../../hooks/useDicomUpload";

function size(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} kB`;
}

/** Where one file's upload stands: waiting, sending, failed, or what the server did with it (each file of a zip). */
function FileResult({ item, progress }: { item: UploadItem; progress: ItemProgress | undefined }) {
  const { t } = useTranslation();
  return (
    <>
      {progress?.state === "failed" && (
        <Text size="sm" c="red">
          {t("upload.failed", { detail: progress.error })}
        </Text>
      )}
      {progress?.state === "waiting" && <Text size="sm" c="dimmed">{t("upload.waiting")}</Text>}
      {progress?.state === "sending" && <Text size="sm" c="dimmed">{t("upload.sending")}</Text>}
      {progress?.results.length === 1 && item.path.endsWith(progress.results[0].file) ? (
        <Group gap={6}>
          <StatusBadge value={progress.results[0].status} />
          {progress.results[0].reason && <Text size="sm">{progress.results[0].reason}</Text>}
        </Group>
      ) : (
        progress?.results.map((result, index) => (
          <Group key={`${result.file}-${index}`} gap={6}>
            <StatusBadge value={result.status} />
            <Text size="sm">
              {result.file}
              {result.reason ? ` — ${result.reason}` : ""}
            </Text>
          </Group>
        ))
      )}
    </>
  );
}

/** DICOM upload (DOCTOR or RIB): drop files, folders or zips; each file and the whole upload show progress. */
export function UploadPage() {
  const { t } = useTranslation();
  const upload = useDicomUpload();
  const [over, setOver] = useState(false);
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  function begin(items: UploadItem[]) {
    if (items.length && !upload.running) void upload.start(items);
  }

  async function drop(event: DragEvent) {
    event.preventDefault();
    setOver(false);
    begin(await itemsFromDrop(event.dataTransfer));
  }

  const counts = { stored: 0, already_stored: 0, rejected: 0, failed: 0 };
  for (const item of upload.items) {
    const progress = upload.progress[item.key];
    if (progress?.state === "failed") counts.failed += 1;
    for (const result of progress?.results ?? []) counts[result.status] += 1;
  }
  const finished = upload.items.length > 0 && !upload.running;
  const columns: Column<UploadItem>[] = [
    { key: "file", header: "upload.file", cell: (item) => item.path },
    { key: "size", header: "upload.size", width: 100, cell: (item) => size(item.file.size) },
    {
      key: "progress",
      header: "upload.progress",
      width: 220,
      cell: (item) => {
        const progress = upload.progress[item.key];
        const percent = item.file.size ? Math.round(((progress?.loaded ?? 0) / item.file.size) * 100) : 100;
        return <Progress value={percent} color={progress?.state === "failed" ? "red" : undefined} aria-label={t("upload.fileProgress", { file: item.path })} />;
      },
    },
    { key: "result", header: "upload.result", cell: (item) => <FileResult item={item} progress={upload.progress[item.key]} /> },
  ];

  return (
    <Stack>
      <Title order={3}>{t("upload.title")}</Title>
      <Paper
        withBorder
        p="xl"
        data-testid="dropzone"
        onDragOver={(event) => {
          event.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
        style={{ borderStyle: "dashed", borderWidth: 2, background: over ? "var(--mantine-color-blue-light)" : undefined, textAlign: "center" }}
      >
        <Stack align="center" gap="xs">
          <Text fw={500}>{t("upload.drop")}</Text>
          <Text size="sm" c="dimmed">
            {t("upload.hint")}
          </Text>
          <Group>
            <Button variant="light" onClick={() => filesInput.current?.click()} disabled={upload.running}>
              {t("upload.chooseFiles")}
            </Button>
            <Button variant="light" onClick={() => folderInput.current?.click()} disabled={upload.running}>
              {t("upload.chooseFolder")}
            </Button>
          </Group>
        </Stack>
        <input
          ref={filesInput}
          type="file"
          multiple
          hidden
          data-testid="file-input"
          accept=".dcm,.zip,application/dicom,application/zip,*/*"
          onChange={(event) => {
            begin(itemsFromFiles(Array.from(event.currentTarget.files ?? [])));
            event.currentTarget.value = "";
          }}
        />
        <input
          ref={folderInput}
          type="file"
          hidden
          data-testid="folder-input"
          {...{ webkitdirectory: "", directory: "" }}
          onChange={(event) => {
            begin(itemsFromFiles(Array.from(event.currentTarget.files ?? [])));
            event.currentTarget.value = "";
          }}
        />
      </Paper>

      {upload.items.length > 0 && (
        <Paper withBorder p="md">
          <Stack gap="xs">
            <Group justify="space-between">
              <Text fw={500}>
                {t("upload.overall", { count: upload.items.length })} · {upload.overall}%
              </Text>
              {upload.running ? (
                <Button size="xs" variant="default" onClick={upload.cancel}>
                  {t("upload.cancel")}
                </Button>
              ) : (
                <Button size="xs" variant="default" onClick={upload.reset}>
                  {t("upload.clear")}
                </Button>
              )}
            </Group>
            <Progress value={upload.overall} size="lg" aria-label={t("upload.overallLabel")} data-testid="overall-progress" striped={upload.running} animated={upload.running} />
            {finished && (
              <Alert color={counts.rejected || counts.failed ? "yellow" : "green"} data-testid="upload-summary">
                {t("upload.summary", counts)}
                {upload.studies.map((study) => (
                  <div key={study.id}>
                    <Anchor component={Link} to={`/radiology/studies/${study.id}`}>
                      {t("upload.openStudy", { uid: study.study_instance_uid })}
                    </Anchor>{" "}
                    {study.status === "RECONCILE" && <Badge color="orange">{t("status.RECONCILE")}</Badge>}
                  </div>
                ))}
              </Alert>
            )}
          </Stack>
        </Paper>
      )}

      {upload.items.length > 0 && (
        <DataTable fz="sm" data-testid="upload-files" columns={columns} rows={upload.items} rowKey={(item) => item.key} rowTestId="upload-row" />
      )}
    </Stack>
  );
}
