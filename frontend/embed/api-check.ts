// Compile-time only: the element must stay what pasar-live.d.ts (the types we ship
// to vendors' developers) promises. Nothing here runs.

import type { PasarCartState, PasarLiveElement } from "./pasar-live";
import type { PasarLive } from "./player";
import type { CartState } from "../shared/storefront";

type Is<T extends true> = T;
type Assignable<A, B> = A extends B ? true : false;

export type ElementMatches = Is<Assignable<PasarLive, PasarLiveElement>>;
export type CartStateMatches = Is<Assignable<PasarCartState, CartState>>;
