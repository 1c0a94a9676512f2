import { TableColumn } from '@backstage/core-components';
import { makeStyles } from '@material-ui/core/styles';

/**
 * For a page or tab of tables: Backstage's theme lets table cells break
 * inside words (`word-break: break-word`), which squeezes narrow columns into
 * "webservi ce". Here cells are at least as wide as their longest word and
 * break only between words; long refs are shortened instead (ShortRef).
 *
 * Cells are selected by element: in an app whose theme providers nest, MUI
 * names the cell class `MuiTableCell-root-123`, which `.MuiTableCell-root`
 * does not match. Their width is the content's: the Backstage Table
 * (material-table) sets every column to an equal share of its container's
 * scroll width, so one column wider than its share widens the table past its
 * box, which raises every share, and the last columns stay cut off.
 */
export const useTableLayoutStyles = makeStyles({
  tables: {
    '& td, & th': {
      wordBreak: 'normal',
      overflowWrap: 'break-word',
      // Beats material-table's inline width only with !important.
      width: 'auto !important',
    },
  },
});

const COMPACT_CELL = { paddingLeft: 8, paddingRight: 8 };

/**
 * Columns with 8 px beside their content instead of the theme's 16 and 20,
 * for a wide table that must fit the tab at 1280 px.
 */
export function compactColumns<T extends object>(
  columns: TableColumn<T>[],
): TableColumn<T>[] {
  return columns.map(c => ({
    ...c,
    cellStyle: COMPACT_CELL,
    headerStyle: COMPACT_CELL,
  }));
}
