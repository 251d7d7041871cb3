export function perimeter(shape) {
  return 2 * (shape.width + shape.height);
}
