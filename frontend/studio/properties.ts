import type { PropertyDeclarations } from "lit";

/** A studio element's reactive properties (Lit's `static properties`): `inputs`
 * its parent sets as properties (never attributes), `state` its own; a change to
 * either draws it again. */
export function properties(inputs: string[], state: string[] = []): PropertyDeclarations {
  return Object.fromEntries([
    ...inputs.map((name) => [name, { attribute: false }]),
    ...state.map((name) => [name, { state: true }]),
  ]);
}
