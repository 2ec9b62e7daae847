/// Reading fixed-width numbers out of header bytes already in memory, bounds-checked: a field
/// that lies past the end gives nil, never a trap. Shared by the pure-Swift binary readers (MRC,
/// MIB, DM3/DM4).
struct ByteFields {
    let bytes: [UInt8]
    let bigEndian: Bool

    init(_ bytes: [UInt8], bigEndian: Bool) {
        self.bytes = bytes
        self.bigEndian = bigEndian
    }

    /// The unsigned integer of `size` bytes (1...8) at `offset`, or nil when out of range.
    func unsigned(_ offset: Int, size: Int) -> UInt64? {
        guard size >= 1, size <= 8, offset >= 0, offset <= bytes.count, size <= bytes.count - offset else { return nil }
        var v: UInt64 = 0
        for k in 0..<size {
            let b = UInt64(bytes[offset + (bigEndian ? k : size - 1 - k)])
            v = v << 8 | b
        }
        return v
    }

    func u8(_ offset: Int) -> UInt8? { unsigned(offset, size: 1).map { UInt8($0) } }
    func u16(_ offset: Int) -> UInt16? { unsigned(offset, size: 2).map { UInt16($0) } }
    func u32(_ offset: Int) -> UInt32? { unsigned(offset, size: 4).map { UInt32($0) } }
    func u64(_ offset: Int) -> UInt64? { unsigned(offset, size: 8) }
    func i32(_ offset: Int) -> Int32? { u32(offset).map { Int32(bitPattern: $0) } }
    func f32(_ offset: Int) -> Float? { u32(offset).map { Float(bitPattern: $0) } }
    func f64(_ offset: Int) -> Double? { u64(offset).map { Double(bitPattern: $0) } }

    /// ASCII text of `count` bytes at `offset` (nil when out of range).
    func ascii(_ offset: Int, count: Int) -> String? {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else { return nil }
        return String(decoding: bytes[offset..<(offset + count)], as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// True when `pattern` occurs at `offset`.
    func has(_ pattern: String, at offset: Int) -> Bool {
        let p = Array(pattern.utf8)
        guard offset >= 0, offset <= count, p.count <= count - offset else { return false }
        return self[offset..<(offset + p.count)].elementsEqual(p)
    }
}
