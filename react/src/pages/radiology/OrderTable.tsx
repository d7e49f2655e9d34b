import { Button, Group } from "@mantine/core";
import { useTranslation } from "react-i18next";

import { useTransitionOrder } from "../../api/radiology";
import type { Order } from "../../api/types";
import { DataTable } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { StatusBadge } from "../../components/StatusBadge";

export function OrderTable({ orders, showPatient = true }: { orders: Order[]; showPatient?: boolean }) {
  const { t } = useTranslation();
  const transition = useTransitionOrder();
  const columns: (Column<Order> | false)[] = [
    { key: "created", header: "radiology.created", cell: (order) => order.created_at.slice(0, 16).replace("T", " ") },
    showPatient && { key: "patient", header: "radiology.patient", link: (order) => `/patients/${order.patient}`, cell: (order) => order.patient.slice(0, 8) },
    { key: "modality", header: "radiology.modality", cell: (order) => order.modality },
    { key: "bodyPart", header: "radiology.bodyPart", cell: (order) => order.body_part },
    { key: "reason", header: "radiology.reason", cell: (order) => order.reason },
    { key: "priority", header: "radiology.priority", cell: (order) => <StatusBadge value={order.priority} /> },
    { key: "status", header: "radiology.status", cell: (order) => <StatusBadge value={order.status} /> },
    { key: "accession", header: "radiology.accession", cell: (order) => order.accession_number ?? "" },
    {
      key: "transitions",
      cell: (order) => (
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
      ),
    },
  ];
  return <DataTable striped highlightOnHover fz="sm" columns={columns} rows={orders} rowKey={(order) => order.id} empty="radiology.noOrders" />;
}
