export interface Point {
  x: number;
  y: number;
}

export function distance(a: Point, b: Point): number {
  
}
