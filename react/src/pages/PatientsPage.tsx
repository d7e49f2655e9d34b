import { Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { usePatients } from "../api/hooks";
import { QueryState } from "../components/QueryState";
import { Pager } from "../components/Pager";


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
      <QueryState query={patients}>
        {(data) =>
          data.count === 0 ? (
            <Text c="dimmed">{t("patients.empty")}</Text>
          ) : (
            <>
              <Table striped highlightOnHover>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t("patients.name")}</Table.Th>
                    <Table.Th>{t("patients.mrn")}</Table.Th>
                    <Table.Th>{t("patients.birthDate")}</Table.Th>
                    <Table.Th>{t("patients.sex")}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.results.map((patient) => (
                    <Table.Tr key={patient.emr_uuid}>
                      <Table.Td>
                        <Link to={`/patients/${patient.emr_uuid}`}>
                          {patient.family_name} {patient.given_name}
                        </Link>
                      </Table.Td>
                      <Table.Td>{patient.mrn}</Table.Td>
                      <Table.Td>{patient.birth_date}</Table.Td>
                      <Table.Td>{patient.sex}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              <Pager count={data.count} page={page} onChange={setPage} />
            </>
          )
        }
      </QueryState>
    </Stack>
  );
}
