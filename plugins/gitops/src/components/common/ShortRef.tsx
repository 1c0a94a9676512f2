import IconButton from '@material-ui/core/IconButton';
import Tooltip from '@material-ui/core/Tooltip';
import CopyIcon from '@material-ui/icons/FileCopyOutlined';
import { useState } from 'react';
import useCopyToClipboard from 'react-use/esm/useCopyToClipboard';
import { shortenRef } from './format';

/** A small button that copies `value`; its tooltip says "Copied" once it has. */
export function CopyButton(props: { value: string; label: string }) {
  const [copied, setCopied] = useState(false);
  const [, copy] = useCopyToClipboard();
  return (
    <Tooltip title={copied ? 'Copied' : `Copy the full ${props.label}`}>
      <IconButton
        size="small"
        aria-label={`Copy ${props.value}`}
        onClick={() => {
          copy(props.value);
          setCopied(true);
        }}
        onMouseLeave={() => setCopied(false)}
      >
        <CopyIcon style={{ fontSize: 14 }} />
      </IconButton>
    </Tooltip>
  );
}

/**
 * A long reference (image, revision, digest) shortened to fit a cell, the
 * whole value on hover, and a button that copies the whole value.
 */
export function ShortRef(props: { value: string; label: string }) {
  return (
    <span style={{ whiteSpace: 'nowrap' }}>
      <Tooltip title={props.value}>
        <code>{shortenRef(props.value)}</code>
      </Tooltip>
      <CopyButton value={props.value} label={props.label} />
    </span>
  );
}
