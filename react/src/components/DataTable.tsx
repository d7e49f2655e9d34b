import { Table, Text } from "@mantine/core";
import type { TableProps } from "@mantine/core";
import type { CSSProperties, Key, KeyboardEvent, ReactElement, ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { Loading } from "./QueryState";

/** Cell style for a short value that must stay on one line (a date, a status). */
export const NOWRAP: CSSProperties = { whiteSpace: "nowrap" };

/** A string is an i18n key (translated here); an element is shown as it is. */
export type Label = string | ReactElement;

export interface Column<Row> {
  /** Unique among the table's columns (React's key). */
  key: string;
  /** The header cell's text; none leaves it empty (a checkbox or an actions column). */
  header?: Label;
  /** What the row shows in this column. */
  cell: (row: Row) => ReactNode;
  /** The cell's content as a link to this address (none: no link for this row). */
  link?: (row: Row) => string | undefined;
  /** The header cell's width. */
  width?: number;
  /** Style of each body cell (no wrapping, a maximum width). */
  style?: CSSProperties;
}

export interface DataTableProps<Row> extends Omit<TableProps, "children"> {
  /** false, null or undefined entries are left out: `showPatient && patientColumn`. */
  columns: readonly (Column<Row> | false | null | undefined)[];
  rows: readonly Row[];
  rowKey: (row: Row, index: number) => Key;
  /** Shown instead of the table when there are no rows; none shows the table with an empty body. */
  empty?: Label;
  /** A loader instead of the table while the rows are on their way. */
  loading?: boolean;
  /** The whole row answers a click (and Enter or Space when focused). */
  onRowClick?: (row: Row) => void;
  /** data-testid of every body row. */
  rowTestId?: string;
  /** false: no header row (a table of records whose columns need no names). */
  withHeader?: boolean;
}

/** The list pages' table: a header row of translated names, one row per record, or a dimmed line when there is none. */
export function DataTable<Row>({ columns, rows, rowKey, empty, loading, onRowClick, rowTestId, withHeader = true, ...table }: DataTableProps<Row>) {
  const { t } = useTranslation();
  const label = (text: Label): ReactNode => (typeof text === "string" ? t(text) : text);
  if (loading) return <Loading />;
  if (!rows.length && empty !== undefined) return typeof empty === "string" ? <Text c="dimmed">{label(empty)}</Text> : empty;
  const shown = columns.filter((column): column is Column<Row> => Boolean(column));
  const clickable = (row: Row) =>
    onRowClick && {
      onClick: () => onRowClick(row),
      onKeyDown: (event: KeyboardEvent) => {
        if (event.target !== event.currentTarget || (event.key !== "Enter" && event.key !== " ")) return;
        event.preventDefault();
        onRowClick(row);
      },
      tabIndex: 0,
      style: { cursor: "pointer" },
    };
  return (
    <Table {...table}>
      {withHeader && (
        <Table.Thead>
          <Table.Tr>
            {shown.map((column) => (
              <Table.Th key={column.key} w={column.width}>
                {column.header === undefined ? null : label(column.header)}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
      )}
      <Table.Tbody>
        {rows.map((row, index) => (
          <Table.Tr key={rowKey(row, index)} data-testid={rowTestId} {...clickable(row)}>
            {shown.map((column) => {
              const to = column.link?.(row);
              return (
                <Table.Td key={column.key} style={column.style}>
                  {to === undefined ? column.cell(row) : <Link to={to}>{column.cell(row)}</Link>}
                </Table.Td>
              );
            })}
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
