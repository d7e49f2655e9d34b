import { Stack, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { usePatients } from "../api/hooks";
import type { Patient } from "../api/types";
import { DataTable } from "../components/DataTable";
import type { Column } from "../components/DataTable";
import { PagedList } from "../components/PagedList";

const COLUMNS: Column<Patient>[] = [
  { key: "name", header: "patients.name", link: (patient) => `/patients/${patient.emr_uuid}`, cell: (patient) => `${patient.family_name} ${patient.given_name}` },
  { key: "mrn", header: "patients.mrn", cell: (patient) => patient.mrn },
  { key: "birthDate", header: "patients.birthDate", cell: (patient) => patient.birth_date },
  { key: "sex", header: "patients.sex", cell: (patient) => patient.sex },
];

export function PatientsPage() {
  const { t } = useTranslation();
  const [search, setSearch] = useState("");
  const [query] = useDebouncedValue(search, 300);
  const [page, setPage] = useState(1);
  const patients = usePatients(query, page);

  return (
    <Stack>
      <Title order={3}>{t("patients.title")}</Title>
      <TextInput
        placeholder={t("patients.search")}
        aria-label={t("patients.search")}
        value={search}
        onChange={(event) => {
          setSearch(event.currentTarget.value);
          setPage(1);
        }}
      />
      <PagedList query={patients} page={page} onPageChange={setPage}>
        {(rows) => <DataTable striped highlightOnHover columns={COLUMNS} rows={rows} rowKey={(patient) => patient.emr_uuid} empty="patients.empty" />}
      </PagedList>
    </Stack>
  );
}
