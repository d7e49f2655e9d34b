// The pieces of the reconciliation page: what the images say, what the EMR has, and a way to pick a patient.
import { Alert, Anchor, Button, Card, Image, Mark, Radio, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { ApiError } from "../../api/client";
import { usePatients } from "../../api/hooks";
import { modalityText } from "../../api/radiology";
import type { Candidate, DicomIdentity, MatchField, ReconciliationItem } from "../../api/radiology";
import type { Patient } from "../../api/types";
import { DataTable } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { QueryState } from "../../components/QueryState";

export interface Choice {
  id: string;
  label: string;
}

const choiceOf = (candidate: Candidate): Choice => ({ id: candidate.id, label: `${candidate.name} (${candidate.mrn})` });

/** Why a link, unlink or reject was refused, as the API said it, field errors included. */
export function ResolveError({ error }: { error: Error }) {
  const { t } = useTranslation();
  const body = error instanceof ApiError ? error.body : null;
  const fields = Object.entries(body?.fields ?? {}).map(([field, problems]) => `${field}: ${([] as unknown[]).concat(problems).join(" ")}`);
  return (
    <Alert color="red" role="alert" title={t("reconciliation.failed")}>
      {body ? [body.detail, ...fields].filter(Boolean).join(" · ") : error.message}
    </Alert>
  );
}

/** A value the EMR and the images agree on stands out, so the RIB sees why a patient is offered. */
function Matched({ on, field, children }: { on: MatchField[]; field: MatchField; children: ReactNode }) {
  const { t } = useTranslation();
  return on.includes(field) ? (
    <Mark color="green" data-testid={`match-${field}`} title={t("reconciliation.matched")}>
      {children}
    </Mark>
  ) : (
    <>{children}</>
  );
}

function Row({ label, value }: { label: string; value: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={180}>{label}</Table.Th>
      <Table.Td>{value || "—"}</Table.Td>
    </Table.Tr>
  );
}

/** The patient as the DICOM header names them, with the study's own details and its first image. */
export function DicomIdentityCard({ item, showThumbnail }: { item: ReconciliationItem; showThumbnail: boolean }) {
  const { t } = useTranslation();
  const identity: DicomIdentity = item.dicom_identity;
  return (
    <Card withBorder data-testid="dicom-identity">
      <Title order={5} mb="xs">
        {t("reconciliation.dicomIdentity")}
      </Title>
      <Table fz="sm">
        <Table.Tbody>
          <Row label={t("reconciliation.patientId")} value={identity.patient_id} />
          <Row label={t("reconciliation.issuer")} value={identity.issuer_of_patient_id} />
          <Row label={t("patients.name")} value={identity.patient_name} />
          <Row label={t("patients.birthDate")} value={identity.birth_date} />
          <Row label={t("patients.sex")} value={identity.sex} />
          <Row label={t("radiology.modality")} value={modalityText(item.modality)} />
          <Row label={t("radiology.studyDate")} value={item.study_date} />
          <Row label={t("radiology.description")} value={item.description} />
          <Row label={t("radiology.seriesInstances")} value={`${item.number_of_series} / ${item.number_of_instances}`} />
          <Row label={t("radiology.source")} value={t(`radiology.sources.${item.source}`, { defaultValue: item.source })} />
          <Row
            label="StudyInstanceUID"
            value={
              <Text size="xs" ff="monospace" style={{ wordBreak: "break-all" }}>
                {item.study_instance_uid}
              </Text>
            }
          />
        </Table.Tbody>
      </Table>
      {!showThumbnail ? null : item.thumbnail_url ? (
        <Image src={item.thumbnail_url} alt={t("reconciliation.thumbnail")} w={192} mt="sm" radius="sm" data-testid="reconcile-thumbnail" />
      ) : (
        <Text size="sm" c="dimmed" mt="sm">
          {t("reconciliation.noThumbnail")}
        </Text>
      )}
    </Card>
  );
}

/** For a conflict: the study the UID already belongs to, which the new images left unchanged. */
export function ExistingStudyCard({ existing, onChoose, canChoose }: { existing: NonNullable<ReconciliationItem["existing_study"]>; onChoose: (choice: Choice) => void; canChoose: boolean }) {
  const { t } = useTranslation();
  const patient = existing.patient;
  return (
    <Card withBorder data-testid="existing-study">
      <Title order={5} mb="xs">
        {t("reconciliation.existingStudy")}
      </Title>
      <Text size="sm">
        {patient ? t("reconciliation.existingPatient", { name: patient.name, mrn: patient.mrn, birthDate: patient.birth_date ?? "—" }) : t("reconciliation.existingUnlinked")}{" "}
        <Anchor component={Link} to={`/radiology/studies/${existing.id}`} size="sm">
          {t("reconciliation.openStudy")}
        </Anchor>
      </Text>
      {canChoose && patient && (
        <Button size="xs" variant="light" mt="xs" w="fit-content" onClick={() => onChoose({ id: patient.id, label: `${patient.name} (${patient.mrn})` })}>
          {t("reconciliation.chooseExisting")}
        </Button>
      )}
    </Card>
  );
}

/** EMR patients offered by the API (by PatientID, name, birth date), each one choosable. */
export function CandidateTable({ candidates, chosen, onChoose, canChoose }: { candidates: Candidate[]; chosen: string | null; onChoose: (choice: Choice) => void; canChoose: boolean }) {
  const { t } = useTranslation();
  if (!candidates.length) return <Text c="dimmed" size="sm">{t("reconciliation.noCandidates")}</Text>;
  const columns: (Column<Candidate> | false)[] = [
    canChoose && { key: "choose", cell: (candidate) => <Radio value={candidate.id} aria-label={t("reconciliation.choose", { name: candidate.name, mrn: candidate.mrn })} /> },
    { key: "name", header: "patients.name", cell: (candidate) => <Matched on={candidate.matched_on} field="name">{candidate.name}</Matched> },
    { key: "mrn", header: "patients.mrn", cell: (candidate) => <Matched on={candidate.matched_on} field="patient_id">{candidate.mrn}</Matched> },
    { key: "birthDate", header: "patients.birthDate", cell: (candidate) => <Matched on={candidate.matched_on} field="birth_date">{candidate.birth_date ?? "—"}</Matched> },
    { key: "sex", header: "patients.sex", cell: (candidate) => candidate.sex },
  ];
  return (
    <Radio.Group value={chosen} onChange={(id) => onChoose(choiceOf(candidates.find((candidate) => candidate.id === id)!))}>
      <DataTable fz="sm" data-testid="candidates" columns={columns} rows={candidates} rowKey={(candidate) => candidate.id} rowTestId="candidate" />
    </Radio.Group>
  );
}

const patientChoice = (patient: Patient): Choice => ({ id: patient.emr_uuid, label: `${patient.family_name} ${patient.given_name} (${patient.mrn})` });

/** Patients the search finds (mounted only with a search, so an empty box fetches nothing). */
function PatientResults({ query, onChoose }: { query: string; onChoose: (choice: Choice) => void }) {
  const { t } = useTranslation();
  const patients = usePatients(query, 1);
  const columns: Column<Patient>[] = [
    { key: "name", cell: (patient) => `${patient.family_name} ${patient.given_name}` },
    { key: "mrn", cell: (patient) => patient.mrn },
    { key: "birthDate", cell: (patient) => patient.birth_date ?? "—" },
    {
      key: "pick",
      cell: (patient) => (
        <Button size="compact-xs" variant="light" onClick={() => onChoose(patientChoice(patient))}>
          {t("reconciliation.pick")}
        </Button>
      ),
    },
  ];
  return (
    <QueryState query={patients}>
      {(data) => (
        <DataTable
          fz="sm"
          data-testid="patient-results"
          withHeader={false}
          columns={columns}
          rows={data.results.slice(0, 10)}
          rowKey={(patient) => patient.emr_uuid}
          empty={
            <Text c="dimmed" size="sm">
              {t("patients.empty")}
            </Text>
          }
        />
      )}
    </QueryState>
  );
}

/** Any EMR patient, by name or record number, when none of the candidates is the right one. */
export function PatientSearch({ onChoose }: { onChoose: (choice: Choice) => void }) {
  const { t } = useTranslation();
  const [search, setSearch] = useState("");
  const [query] = useDebouncedValue(search.trim(), 300);
  return (
    <Stack gap="xs" mt="sm">
      <TextInput label={t("reconciliation.searchPatient")} placeholder={t("patients.search")} value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
      {query && <PatientResults query={query} onChoose={onChoose} />}
    </Stack>
  );
}
