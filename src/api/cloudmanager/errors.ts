/**
 * Errors in Cloud Manager's terms: the fields its clients read from an error body. (The status of each failure type
 * is the API's one map, src/api/problems.ts.)
 */
/**
 * What aio-lib-cloudmanager shows of an `application/problem+json` answer: the `errors` array's messages (it says
 * nothing of a body without one). Added to every problem the API answers.
 */
export function cloudManagerErrorFields(detail: string): { errors: Array<{ message: string }> } {
  return { errors: [{ message: detail }] };
}
