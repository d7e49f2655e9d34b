import { Anchor, Card, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";

import { SECTIONS, usePatient, usePatientSection, useTimeline } from "../api/hooks";
import type { SectionName } from "../api/hooks";
import { QueryState } from "../components/QueryState";

// Which columns of OpenEMR's rows each section shows (OpenEMR sends many more).
const COLUMNS: Record<SectionName, string[]> = {
  problems: ["title", "diagnosis", "begdate"],
  medications: ["title", "begdate"],
  prescriptions: ["drug", "dosage", "route", "interval", "start_date"],
  allergies: ["title", "begdate"],
  encounters: ["date", "reason", "class_code"],
  vitals: ["date", "bps", "bpd", "pulse", "temperature", "oxygen_saturation"],
};

function SectionCard({ puuid, section }: { puuid: string; section: SectionName }) {
  const { t } = useTranslation();
  const query = usePatientSection(puuid, section);
  return (
    <Card withBorder>
      <Title order={5} mb="xs">
        {t(`patient.sections.${section}`)}
      </Title>
      <QueryState query={query}>
        {(data) =>
          data.results.length === 0 ? (
            <Text c="dimmed">{t("patient.none")}</Text>
          ) : (
            <Table fz="sm">
              <Table.Tbody>
                {data.results.slice(0, 20).map((row, index) => (
                  <Table.Tr key={String(row.uuid ?? row.id ?? index)}>
                    {COLUMNS[section].map((column) => (
                      <Table.Td key={column}>{row[column] ?? ""}</Table.Td>
                    ))}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )
        }
      </QueryState>
    </Card>
  );
}

export function PatientPage() {
  const { t } = useTranslation();
  const { puuid = "" } = useParams();
  const patient = usePatient(puuid);
  const timeline = useTimeline(puuid);

  return (
    <Stack>
      <Anchor component={Link} to="/patients">
        ← {t("patient.back")}
      </Anchor>
      <QueryState query={patient}>
        {(data) => (
          <Card withBorder>
            <Title order={3}>
              {data.family_name} {data.given_name}
            </Title>
            <Group gap="xl">
              <Text>
                {t("patients.mrn")}: {data.mrn}
              </Text>
              <Text>
                {t("patients.birthDate")}: {data.birth_date}
              </Text>
              <Text>
                {t("patients.sex")}: {data.sex}
              </Text>
            </Group>
          </Card>
        )}
      </QueryState>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        {SECTIONS.map((section) => (
          <SectionCard key={section} puuid={puuid} section={section} />
        ))}
      </SimpleGrid>
      <Card withBorder>
        <Title order={5} mb="xs">
          {t("patient.timeline")}
        </Title>
        <QueryState query={timeline}>
          {(data) =>
            data.count === 0 ? (
              <Text c="dimmed">{t("patient.none")}</Text>
            ) : (
              <Stack gap={4}>
                {data.results.map((event) => (
                  <Text key={`${event.kind}-${event.source_id}`} size="sm">
                    {event.occurred_at.slice(0, 10)} · {event.kind} · {event.title}
                  </Text>
                ))}
              </Stack>
            )
          }
        </QueryState>
      </Card>
    </Stack>
  );
}
