import { Button, Group, Table, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { useTransitionOrder } from "../../api/radiology";
import type { Order } from "../../api/types";
import { StatusBadge } from "../../components/StatusBadge";

export function OrderTable({ orders, showPatient = true }: { orders: Order[]; showPatient?: boolean }) {
  const { t } = useTranslation();
  const transition = useTransitionOrder();
  if (!orders.length) return <Text c="dimmed">{t("radiology.noOrders")}</Text>;
  return (
    <Table striped highlightOnHover fz="sm">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t("radiology.created")}</Table.Th>
          {showPatient && <Table.Th>{t("radiology.patient")}</Table.Th>}
          <Table.Th>{t("radiology.modality")}</Table.Th>
          <Table.Th>{t("radiology.bodyPart")}</Table.Th>
          <Table.Th>{t("radiology.reason")}</Table.Th>
          <Table.Th>{t("radiology.priority")}</Table.Th>
          <Table.Th>{t("radiology.status")}</Table.Th>
          <Table.Th>{t("radiology.accession")}</Table.Th>
          <Table.Th />
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {orders.map((order) => (
          <Table.Tr key={order.id}>
            <Table.Td>{order.created_at.slice(0, 16).replace("T", " ")}</Table.Td>
            {showPatient && (
              <Table.Td>
                <Link to={`/patients/${order.patient}`}>{order.patient.slice(0, 8)}</Link>
              </Table.Td>
            )}
            <Table.Td>{order.modality}</Table.Td>
            <Table.Td>{order.body_part}</Table.Td>
            <Table.Td>{order.reason}</Table.Td>
            <Table.Td>
              <StatusBadge value={order.priority} />
            </Table.Td>
            <Table.Td>
              <StatusBadge value={order.status} />
            </Table.Td>
            <Table.Td>{order.accession_number ?? ""}</Table.Td>
            <Table.Td>
              <Group gap={4} wrap="nowrap">
                {order.allowed_transitions.map((next) => (
                  <Button
                    key={next}
                    size="compact-xs"
                    variant="light"
                    loading={transition.isPending && transition.variables?.id === order.id}
                    onClick={() => transition.mutate({ id: order.id, status: next })}
                  >
                    {t(`radiology.transition.${next}`, { defaultValue: next })}
                  </Button>
                ))}
              </Group>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
