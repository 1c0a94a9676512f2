import { makeStyles } from '@material-ui/core/styles';

/**
 * For a page or tab of tables: Backstage's theme lets table cells break
 * inside words (`word-break: break-word`), which squeezes narrow columns into
 * "webservi ce". Here cells are at least as wide as their longest word and
 * break only between words; long refs are shortened instead (ShortRef).
 */
export const useTableLayoutStyles = makeStyles({
  tables: {
    '& .MuiTableCell-root': {
      wordBreak: 'normal',
      overflowWrap: 'break-word',
    },
  },
});
