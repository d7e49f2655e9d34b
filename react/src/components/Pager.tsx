import { Pagination } from "@mantine/core";

import { PAGE_SIZE } from "../api/client";

/** Page links under a list, shown when the list has more than one page. */
export function Pager({ count, page, onChange }: { count: number; page: number; onChange: (page: number) => void }) {
  return count > PAGE_SIZE ? <Pagination total={Math.ceil(count / PAGE_SIZE)} value={page} onChange={onChange} /> : null;
}
