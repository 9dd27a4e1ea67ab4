import { css } from "lit";

/** Every control-room panel: a section with a heading row. */
export const panel = css`
  .section { margin-top: 20px; }
  .head { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; margin-bottom: 8px; }
  .head h3 { margin: 0; flex: 1; }
`;
