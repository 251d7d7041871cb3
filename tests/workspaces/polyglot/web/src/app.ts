import { area, Shape } from "./shapes";

export function totalArea(shapes: Shape[]): number {
  let total = 0;
  for (const shape of shapes) {
    total += 
  }
  return total;
}
