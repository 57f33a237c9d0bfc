// Facts about MediaPipe's face-mesh topology: the closed contours of the face regions (as ordered
// index loops) and the left/right mirror pairing of all 478 landmarks.
//
// "Left"/"right" are the subject's: LEFT_EYE is the eye on the image's right in a selfie-free photo.
// Each loop is ordered around its region, so it can be rasterised as a polygon directly.

/** Face silhouette, clockwise in the image from the forehead top (10) via the chin (152). */
export const FACE_OVAL: readonly number[] = [
  10,
  338,
  297,
  332,
  284,
  251,
  389,
  356,
  454,
  323,
  361,
  288,
  397,
  365,
  379,
  378,
  400,
  377,
  152,
  148,
  176,
  149,
  150,
  136,
  172,
  58,
  132,
  93,
  234,
  127,
  162,
  21,
  54,
  103,
  67,
  109,
];

/** Outer lip line: lower lip from corner 61 to corner 291, then the upper lip back. */
export const LIPS_OUTER: readonly number[] = [
  61,
  146,
  91,
  181,
  84,
  17,
  314,
  405,
  321,
  375,
  291,
  409,
  270,
  269,
  267,
  0,
  37,
  39,
  40,
  185,
];

/** Inner lip line (the mouth opening): lower edge from 78 to 308, then the upper edge back. */
export const LIPS_INNER: readonly number[] = [
  78,
  95,
  88,
  178,
  87,
  14,
  317,
  402,
  318,
  324,
  308,
  415,
  310,
  311,
  312,
  13,
  82,
  81,
  80,
  191,
];

/** Subject's right eye (image left): lower lid from outer corner 33 to inner 133, upper lid back. */
export const RIGHT_EYE: readonly number[] = [
  33,
  7,
  163,
  144,
  145,
  153,
  154,
  155,
  133,
  173,
  157,
  158,
  159,
  160,
  161,
  246,
];

/** Subject's left eye (image right): lower lid from outer corner 263 to inner 362, upper lid back. */
export const LEFT_EYE: readonly number[] = [
  263,
  249,
  390,
  373,
  374,
  380,
  381,
  382,
  362,
  398,
  384,
  385,
  386,
  387,
  388,
  466,
];

/** Subject's right brow: lower edge outer → inner (46 … 55), then the upper edge inner → outer. */
export const RIGHT_BROW: readonly number[] = [46, 53, 52, 65, 55, 107, 66, 105, 63, 70];

/** Subject's left brow: lower edge outer → inner (276 … 285), then the upper edge inner → outer. */
export const LEFT_BROW: readonly number[] = [276, 283, 282, 295, 285, 336, 296, 334, 293, 300];

/** Iris centres and rims (the 10 refinement points). */
export const RIGHT_IRIS_CENTER = 468;
export const RIGHT_IRIS: readonly number[] = [469, 470, 471, 472];
export const LEFT_IRIS_CENTER = 473;
export const LEFT_IRIS: readonly number[] = [474, 475, 476, 477];

/** Useful single points. */
export const POINTS = {
  foreheadTop: 10,
  noseBridge: 168,
  noseTip: 1,
  chin: 152,
  rightEyeOuter: 33,
  rightEyeInner: 133,
  leftEyeOuter: 263,
  leftEyeInner: 362,
  mouthRight: 61,
  mouthLeft: 291,
  upperLipTop: 0,
  lowerLipBottom: 17,
  upperLipInner: 13,
  lowerLipInner: 14,
} as const;
